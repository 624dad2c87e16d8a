#!/usr/bin/env python3
"""Fairness under a memory budget, measured (issue 18): 100 clients pipeline
16 KiB frames and never read, 100 clients each pipeline 200 frames and read
their echoes, and one ping-pong client measures 64-byte round trips for 8 s
(5 s timeouts). Prints how many reading clients finished and the ping-pong
p50/p99/max.

    cargo build --release -p lenframe-cli --bin lenframe --example tokio_util_echo_server
    python3 lenframe-cli/benches/fairness.py target/release/lenframe serve --addr 127.0.0.1:0 --max-memory 64M
    python3 lenframe-cli/benches/fairness.py target/release/examples/tokio_util_echo_server --addr 127.0.0.1:0

The server command must print `listening on ADDR` first.
"""
import socket, struct, sys, threading, time, subprocess
cmd = sys.argv[1:]
p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
line = p.stdout.readline()
host, port = line.split()[-1].rsplit(':', 1); addr = (host, int(port))
threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
FR = struct.pack('!I', 16384) + b'x' * 16384
hogs = []
def hog():
    s = socket.create_connection(addr); hogs.append(s); s.settimeout(5)
    try:
        while True: s.sendall(FR * 16)
    except Exception: pass
ths = [threading.Thread(target=hog) for _ in range(100)]
[t.start() for t in ths]
time.sleep(2)
done = [0]; failed = [0]
def reader():
    s = socket.create_connection(addr); s.settimeout(5)
    n = 200
    def w():
        try: s.sendall(FR * n)
        except Exception: pass
    threading.Thread(target=w, daemon=True).start()
    want = len(FR) * n; got = 0
    try:
        while got < want:
            b = s.recv(1 << 20)
            if not b: break
            got += len(b)
    except Exception: pass
    if got == want: done[0] += 1
    else: failed[0] += 1
rs = [threading.Thread(target=reader) for _ in range(100)]
[t.start() for t in rs]
lat = []
s = socket.create_connection(addr); s.settimeout(5); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = struct.pack('!I', 64) + b'p' * 64
t_end = time.time() + 8; timeouts = 0
while time.time() < t_end:
    t0 = time.perf_counter()
    try:
        s.sendall(msg); got = b''
        while len(got) < 68: 
            b = s.recv(68 - len(got))
            if not b: raise Exception('eof')
            got += b
        lat.append(time.perf_counter() - t0)
    except Exception as e:
        timeouts += 1; break
[t.join() for t in rs]
lat.sort()
q = lambda f: lat[min(len(lat)-1, int(f*len(lat)))]*1000 if lat else float('nan')
print(f"{cmd[0].split('/')[-1]}: readers finished {done[0]}/100, pingpong n={len(lat)} p50={q(.5):.2f}ms p99={q(.99):.2f}ms max={q(1)-0:.2f}ms timeouts={timeouts}")
p.terminate()
