//! The chunk codec: a series' points (ascending, distinct timestamps) as one compact blob.
//! Pure functions, no I/O.
//!
//! Layout: varint point count; the first timestamp (zigzag varint) and the first value's
//! 8 bytes; then per point the delta-of-delta of its timestamp (zigzag varint: one byte
//! for a steady rate) and its value XOR'd with the previous one, byte-aligned: a header
//! byte `lead << 4 | trail` (whole zero bytes before and after the changed bits) and the
//! `8 - lead - trail` bytes between (`0x80` alone: the value did not change). A steady
//! 1 Hz sensor with a constant value costs 2 bytes per point, a noisy one up to 10.

use plantd_contracts::time::Millis;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub &'static str);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "corrupt telemetry chunk: {}", self.0)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, CodecError> {
        let b = *self.data.get(self.at).ok_or(CodecError("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(CodecError("varint too long"))
    }
}

/// Encodes points sorted by time with distinct timestamps.
pub fn encode(points: &[(Millis, f64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + points.len() * 3);
    put_varint(&mut out, points.len() as u64);
    let Some(&(t0, v0)) = points.first() else {
        return out;
    };
    put_varint(&mut out, zigzag(t0));
    out.extend_from_slice(&v0.to_bits().to_be_bytes());
    let (mut prev_t, mut prev_delta, mut prev_bits) = (t0, 0i64, v0.to_bits());
    for &(t, v) in &points[1..] {
        let delta = t.wrapping_sub(prev_t);
        put_varint(&mut out, zigzag(delta.wrapping_sub(prev_delta)));
        let bits = v.to_bits();
        let xor = bits ^ prev_bits;
        if xor == 0 {
            out.push(0x80);
        } else {
            let lead = (xor.leading_zeros() / 8) as usize;
            let trail = (xor.trailing_zeros() / 8) as usize;
            out.push(((lead << 4) | trail) as u8);
            out.extend_from_slice(&xor.to_be_bytes()[lead..8 - trail]);
        }
        (prev_t, prev_delta, prev_bits) = (t, delta, bits);
    }
    out
}

/// Decodes a blob written by [`encode`], appending to `out`.
pub fn decode_into(data: &[u8], out: &mut Vec<(Millis, f64)>) -> Result<(), CodecError> {
    let mut r = Reader { data, at: 0 };
    let n = r.varint()?;
    if n == 0 {
        return Ok(());
    }
    if n > data.len() as u64 {
        return Err(CodecError("count larger than the blob"));
    }
    out.reserve(n as usize);
    let t0 = unzigzag(r.varint()?);
    let mut first = [0u8; 8];
    for b in &mut first {
        *b = r.byte()?;
    }
    let mut bits = u64::from_be_bytes(first);
    out.push((t0, f64::from_bits(bits)));
    let (mut t, mut delta) = (t0, 0i64);
    for _ in 1..n {
        delta = delta.wrapping_add(unzigzag(r.varint()?));
        t = t.wrapping_add(delta);
        let header = r.byte()?;
        if header != 0x80 {
            let (lead, trail) = ((header >> 4) as usize, (header & 0x0f) as usize);
            if lead + trail >= 8 {
                return Err(CodecError("bad value header"));
            }
            let mut xor = [0u8; 8];
            for b in &mut xor[lead..8 - trail] {
                *b = r.byte()?;
            }
            bits ^= u64::from_be_bytes(xor);
        }
        out.push((t, f64::from_bits(bits)));
    }
    if r.at != data.len() {
        return Err(CodecError("trailing bytes"));
    }
    Ok(())
}

pub fn decode(data: &[u8]) -> Result<Vec<(Millis, f64)>, CodecError> {
    let mut out = Vec::new();
    decode_into(data, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(points: &[(Millis, f64)]) -> usize {
        let blob = encode(points);
        let back = decode(&blob).expect("decodes");
        assert_eq!(back.len(), points.len());
        for (a, b) in back.iter().zip(points) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "value bits at {}", a.0);
        }
        blob.len()
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(round_trip(&[]), 1);
        round_trip(&[(1_795_000_000_123, -2.5)]);
        round_trip(&[(0, f64::MAX)]);
    }

    #[test]
    fn steady_series_is_two_bytes_a_point() {
        let points: Vec<_> = (0..3600)
            .map(|i| (1_795_000_000_000 + i * 1000, 61.5))
            .collect();
        let size = round_trip(&points);
        assert!(size <= 2 * 3600 + 16, "{size} bytes");
    }

    #[test]
    fn irregular_times_and_awkward_values() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut t = 5i64;
        let mut points = Vec::new();
        for i in 0..5000 {
            t += 1 + (next() % 100_000) as i64;
            let v = match i % 7 {
                0 => f64::from_bits(next()).clamp(-1e300, 1e300),
                1 => 0.0,
                2 => -0.0,
                3 => f64::MIN_POSITIVE,
                4 => (next() % 1000) as f64 / 10.0,
                _ => points.last().map(|p: &(i64, f64)| p.1).unwrap_or(1.0),
            };
            points.push((t, if v.is_nan() { 1.0 } else { v }));
        }
        round_trip(&points);
        // Going back in time between points (never written, but must not break decoding).
        round_trip(&[(1000, 1.0), (10, 2.0), (i64::MAX / 2, 3.0), (-5, 4.0)]);
    }

    #[test]
    fn corrupt_blobs_are_errors_not_panics() {
        let blob = encode(&[(1, 1.0), (2, 2.0), (3, 3.5)]);
        for cut in 0..blob.len() {
            assert!(decode(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = blob.clone();
        extra.push(0);
        assert!(decode(&extra).is_err());
        assert!(decode(&[0xff; 12]).is_err());
    }
}
