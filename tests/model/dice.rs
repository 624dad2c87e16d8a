//! Decisions drawn from the fuzz input (or a seeded generator): every run
//! of the model check is a pure function of its bytes, so a failing case
//! is a corpus file.

/// A cursor over decision bytes. Past the end every byte is 0, and every
/// choice is laid out so that 0 is the benign one (no fault, the first
/// option), so an exhausted run still finishes.
#[derive(Debug)]
pub struct Dice<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Dice<'a> {
    pub fn new(data: &'a [u8]) -> Dice<'a> {
        Dice { data, pos: 0 }
    }

    /// True once every decision byte is used.
    pub fn exhausted(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// Uniform-ish in `0..n` (0 if `n` <= 1).
    pub fn below(&mut self, n: usize) -> usize {
        match n {
            0 | 1 => 0,
            2..=256 => usize::from(self.byte()) % n,
            _ => usize::from(u16::from_le_bytes([self.byte(), self.byte()])) % n,
        }
    }

    /// True with probability `p`/256; false once exhausted.
    pub fn chance(&mut self, p: u8) -> bool {
        u16::from(self.byte()) + u16::from(p) > 255
    }

    /// Takes `n` decision bytes as a seed for bulk data.
    pub fn seed(&mut self) -> u64 {
        u64::from_le_bytes([0; 8].map(|_| self.byte()))
    }
}

/// splitmix64: cheap bulk bytes (payloads, garbage) and seed-driven runs.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        // A plain loop: unoptimised test builds run it many times.
        let mut out = vec![0; n];
        for b in &mut out {
            *b = self.next_u64() as u8;
        }
        out
    }
}
