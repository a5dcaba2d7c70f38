//! G.711 µ-law and A-law decoding (ITU-T G.711), for recordings.
//!
//! Exists because a recording is written as linear PCM that any player opens, while calls carry
//! companded bytes. Tables are built at compile time: decoding is one lookup per sample.

/// µ-law byte → linear 16-bit sample.
pub fn ulaw(byte: u8) -> i16 {
    ULAW[usize::from(byte)]
}

/// A-law byte → linear 16-bit sample.
pub fn alaw(byte: u8) -> i16 {
    ALAW[usize::from(byte)]
}

static ULAW: [i16; 256] = build(false);
static ALAW: [i16; 256] = build(true);

const fn build(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw { alaw_decode(i as u8) } else { ulaw_decode(i as u8) };
        i += 1;
    }
    t
}

const fn ulaw_decode(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = (u & 0x0f) as i16;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 { -magnitude } else { magnitude }
}

const fn alaw_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = (a & 0x0f) as i16;
    let magnitude = match exponent {
        0 => (mantissa << 4) + 8,
        _ => ((mantissa << 4) + 0x108) << (exponent - 1),
    };
    if a & 0x80 != 0 { magnitude } else { -magnitude }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Silence and the extremes, from the G.711 tables.
        assert_eq!(ulaw(0xff), 0);
        assert_eq!(ulaw(0x7f), 0);
        assert_eq!(ulaw(0x00), -32124);
        assert_eq!(ulaw(0x80), 32124);
        assert_eq!(alaw(0xd5), 8);
        assert_eq!(alaw(0x55), -8);
        assert_eq!(alaw(0xaa), 32256);
        assert_eq!(alaw(0x2a), -32256);
    }

    #[test]
    fn monotonic_within_each_sign() {
        // µ-law 0x80..=0xfe goes from loudest positive down to zero.
        for b in 0x80u8..0xfe {
            assert!(ulaw(b) > ulaw(b + 1), "{b:#x}");
        }
        for b in 0u8..0x7e {
            assert!(ulaw(b) < ulaw(b + 1), "{b:#x}");
        }
    }
}
