//! The x87 extended precision `long double` of x86-64, in software: what Redis's
//! `INCRBYFLOAT` parses (`strtold`), adds and prints (`%.17Lf`, trailing zeros removed),
//! so that its replies are Redis's digit for digit (`0.1` plus `0.2` is `0.3` there, not
//! `0.30000000000000004`).
//!
//! A value is `mant * 2^exp` with a 64-bit significand, rounded to nearest (ties to
//! even) after every operation; exponents span the format's range, subnormals
//! included. Parsing and printing are exact, with big integers.

use std::cmp::Ordering;

/// The lowest exponent of the significand's last bit (subnormals have it too).
const MIN_EXP: i32 = -16445;
/// The highest exponent of the significand's last bit of a finite value.
const MAX_EXP: i32 = 16320;
/// Decimal exponents beyond this make any significand of the allowed input length
/// overflow or vanish (the format spans about 10^±4951; inputs have at most 5,120 digits).
const DEC_EXP_LIMIT: i64 = 12_000;

/// A `long double`: finite, or an infinity (NaN is never produced: Redis refuses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LongDouble {
    /// `(-1)^neg * mant * 2^exp`; `mant` has its top bit set unless the value is zero or
    /// subnormal.
    Finite {
        /// The sign.
        neg: bool,
        /// The significand.
        mant: u64,
        /// The exponent of its last bit.
        exp: i32,
    },
    /// An infinity.
    Inf {
        /// The sign.
        neg: bool,
    },
}

use LongDouble::{Finite, Inf};

impl LongDouble {
    /// Zero.
    pub(super) const ZERO: LongDouble = Finite {
        neg: false,
        mant: 0,
        exp: 0,
    };

    /// Whether the value is an infinity.
    pub(super) fn is_inf(self) -> bool {
        matches!(self, Inf { .. })
    }

    /// `value * 2^exp`, with `sticky` telling that nonzero bits below `value` were cut,
    /// rounded to the format.
    fn round(neg: bool, value: u128, exp: i32, sticky: bool) -> LongDouble {
        if value == 0 {
            return Finite {
                neg,
                mant: 0,
                exp: 0,
            };
        }
        let bits = 128 - value.leading_zeros() as i32;
        // Keep 64 bits, and no bit below the lowest exponent.
        let shift = (bits - 64).max(MIN_EXP.saturating_sub(exp));
        let (mut mant, mut e) = if shift <= 0 {
            ((value << (-shift) as u32) as u64, exp + shift)
        } else {
            let (kept, dropped, half) = if shift >= 128 {
                (0, value, None)
            } else {
                let s = shift as u32;
                (
                    value >> s,
                    value & ((1u128 << s) - 1),
                    Some(1u128 << (s - 1)),
                )
            };
            let up = match half {
                // Everything dropped, which is under half of the last bit kept.
                None => false,
                Some(half) => match dropped.cmp(&half) {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    Ordering::Equal => sticky || kept & 1 == 1,
                },
            };
            let mut m = kept + u128::from(up);
            let mut e = exp.saturating_add(shift);
            if m >> 64 != 0 {
                m >>= 1;
                e += 1;
            }
            (m as u64, e)
        };
        if mant == 0 {
            e = 0;
        } else if mant >> 63 == 0 && e > MIN_EXP {
            // Only subnormals lack the top bit.
            let lz = mant.leading_zeros() as i32;
            let by = lz.min(e - MIN_EXP);
            mant <<= by;
            e -= by;
        }
        if e > MAX_EXP {
            return Inf { neg };
        }
        Finite { neg, mant, exp: e }
    }

    /// `self + other`, rounded.
    pub(super) fn add(self, other: LongDouble) -> LongDouble {
        let (a, b) = match (self, other) {
            (Inf { neg: x }, Inf { neg: y }) if x != y => {
                // NaN; the caller refuses infinities anyway.
                return Inf { neg: false };
            }
            (Inf { .. }, _) => return self,
            (_, Inf { .. }) => return other,
            (Finite { mant: 0, .. }, _) => return other,
            (_, Finite { mant: 0, .. }) => return self,
            (Finite { .. }, Finite { .. }) => (self, other),
        };
        let (
            Finite {
                neg: na,
                mant: ma,
                exp: ea,
            },
            Finite {
                neg: nb,
                mant: mb,
                exp: eb,
            },
        ) = (a, b)
        else {
            unreachable!("both finite")
        };
        // `a` gets the larger exponent.
        let ((na, ma, ea), (nb, mb, eb)) = if ea >= eb {
            ((na, ma, ea), (nb, mb, eb))
        } else {
            ((nb, mb, eb), (na, ma, ea))
        };
        let d = (ea - eb) as u32;
        let big_a = u128::from(ma) << 62;
        let big_b = u128::from(mb) << 62;
        let (b_sh, sticky) = if d >= 126 {
            (0, mb != 0)
        } else {
            (big_b >> d, big_b & ((1u128 << d) - 1) != 0)
        };
        let exp = ea - 62;
        if na == nb {
            return LongDouble::round(na, big_a + b_sh, exp, sticky);
        }
        if d == 0 {
            return match big_a.cmp(&b_sh) {
                Ordering::Greater => LongDouble::round(na, big_a - b_sh, exp, false),
                Ordering::Less => LongDouble::round(nb, b_sh - big_a, exp, false),
                Ordering::Equal => LongDouble::ZERO,
            };
        }
        // d >= 1: `a` is the larger in magnitude; the bits of `b` cut below its last
        // kept bit borrow one and leave a nonzero fraction.
        let diff = big_a - b_sh - u128::from(sticky);
        LongDouble::round(na, diff, exp, sticky)
    }

    /// `(long long)ceill(self * 1000.0)` on x86-64, as Redis 7.0 turns a timeout in
    /// seconds into milliseconds: the product rounded to the format, then rounded up to
    /// a whole number; out of the range of `i64` (infinities too) it is `i64::MIN`, the
    /// x87's "integer indefinite".
    pub(super) fn times_1000_ceil(self) -> i64 {
        let Finite { neg, mant, exp } = self else {
            return i64::MIN;
        };
        let Finite { neg, mant, exp } = LongDouble::round(neg, u128::from(mant) * 1000, exp, false)
        else {
            return i64::MIN;
        };
        let (whole, fraction): (u128, bool) = if exp >= 64 {
            return i64::MIN;
        } else if exp >= 0 {
            (u128::from(mant) << exp, false)
        } else if exp > -64 {
            let k = (-exp) as u32;
            (u128::from(mant >> k), mant & ((1u64 << k) - 1) != 0)
        } else {
            (0, mant != 0)
        };
        if neg {
            // Up is toward zero.
            if whole > 1u128 << 63 {
                i64::MIN
            } else {
                (whole as i128).wrapping_neg() as i64
            }
        } else {
            i64::try_from(whole + u128::from(fraction)).unwrap_or(i64::MIN)
        }
    }

    /// The nearest `f64`: its significand rounded to 53 bits, infinities beyond its
    /// range.
    pub(super) fn to_f64(self) -> f64 {
        let (neg, mant, exp) = match self {
            Inf { neg } => {
                return if neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Finite { neg, mant, exp } => (neg, mant, exp),
        };
        let mut v = mant as f64;
        let mut e = exp;
        while e > 1000 && v.is_finite() {
            v *= 2f64.powi(1000);
            e -= 1000;
        }
        while e < -1000 && v != 0.0 {
            v *= 2f64.powi(-1000);
            e += 1000;
        }
        v *= 2f64.powi(e);
        if neg {
            -v
        } else {
            v
        }
    }

    /// Parses as Redis's `string2ld` does with `strtold`: decimal (`1.5`, `-.5e3`),
    /// hexadecimal (`0x1p-2`) or `inf`/`infinity`; no space, nothing after the number,
    /// at most 5,119 bytes; `None` for NaN, and for a finite number out of range (an
    /// overflow, or an underflow to zero).
    pub(super) fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= 5 * 1024 {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Inf { neg });
        }
        if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            if let Some(v) = parse_hex(neg, &body[2..]) {
                return Some(v);
            }
            // `0x` without hexadecimal digits is a zero followed by junk.
            return None;
        }
        parse_decimal(neg, body)
    }

    /// Formats as Redis's `ld2string` in its human mode: `%.17Lf`, then trailing zeros and
    /// a trailing point removed, and `-0` written `0`.
    pub(super) fn to_human(self) -> String {
        let (neg, mant, exp) = match self {
            Inf { neg: true } => return "-inf".into(),
            Inf { neg: false } => return "inf".into(),
            Finite { neg, mant, exp } => (neg, mant, exp),
        };
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17
        let (int_part, frac) = if exp >= 0 {
            let mut n = Big::from_u64(mant);
            n.shl(exp as u32);
            (n.to_decimal(), 0u128)
        } else {
            let k = (-exp) as u32;
            let scaled = if k >= 123 {
                0
            } else {
                let p = u128::from(mant) * SCALE;
                let q = p >> k;
                let r = p & ((1u128 << k) - 1);
                let half = 1u128 << (k - 1);
                match r.cmp(&half) {
                    Ordering::Greater => q + 1,
                    Ordering::Equal if q & 1 == 1 => q + 1,
                    _ => q,
                }
            };
            ((scaled / SCALE).to_string(), scaled % SCALE)
        };
        let mut s = String::with_capacity(int_part.len() + 20);
        if neg {
            s.push('-');
        }
        s.push_str(&int_part);
        if frac != 0 {
            let digits = format!("{frac:017}");
            s.push('.');
            s.push_str(digits.trim_end_matches('0'));
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

/// Decimal digits with an optional point and exponent; `None` if anything else is left.
fn parse_decimal(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut i = 0;
    let mut digits = Big::zero();
    let mut any = false;
    let mut nonzero = false;
    let mut dec_exp: i64 = 0;
    let mut seen_point = false;
    while i < s.len() {
        match s[i] {
            d @ b'0'..=b'9' => {
                any = true;
                if d != b'0' || nonzero {
                    nonzero = true;
                    digits.mul_add(10, u32::from(d - b'0'));
                    if seen_point {
                        dec_exp -= 1;
                    }
                } else if seen_point {
                    // Leading zeros after the point only move the exponent.
                    dec_exp -= 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < s.len() {
        if s[i] | 0x20 != b'e' {
            return None;
        }
        i += 1;
        let (eneg, rest) = match s.get(i) {
            Some(b'-') => (true, &s[i + 1..]),
            Some(b'+') => (false, &s[i + 1..]),
            _ => (false, &s[i..]),
        };
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut e: i64 = 0;
        for &d in rest {
            e = (e * 10 + i64::from(d - b'0')).min(1_000_000_000);
        }
        dec_exp += if eneg { -e } else { e };
    }
    if !nonzero {
        return Some(Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    let magnitude = dec_exp + digits.decimal_digits_upper() as i64;
    if magnitude > DEC_EXP_LIMIT {
        return None; // overflow
    }
    if magnitude < -DEC_EXP_LIMIT {
        return None; // underflow to zero
    }
    let (mut num, mut den) = if dec_exp >= 0 {
        let mut n = digits;
        n.mul_pow10(dec_exp as u32);
        (n, Big::from_u64(1))
    } else {
        let mut d = Big::from_u64(1);
        d.mul_pow10((-dec_exp) as u32);
        (digits, d)
    };
    // Scale so that the quotient has 66 or 67 bits.
    let s = 66 - (num.bit_len() as i64 - den.bit_len() as i64);
    if s > 0 {
        num.shl(s as u32);
    } else if s < 0 {
        den.shl((-s) as u32);
    }
    let mut q: u128 = 0;
    for bit in (0..68).rev() {
        let mut shifted = den.clone();
        shifted.shl(bit);
        if num.cmp(&shifted) != Ordering::Less {
            num.sub(&shifted);
            q |= 1u128 << bit;
        }
    }
    let exp = i32::try_from(-s).ok()?;
    let v = LongDouble::round(neg, q, exp, !num.is_zero());
    match v {
        Inf { .. } => None,
        Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

/// The digits after `0x`: hexadecimal digits with an optional point, then an optional
/// binary exponent `p[+-]digits`.
fn parse_hex(neg: bool, s: &[u8]) -> Option<LongDouble> {
    let mut i = 0;
    let mut value = Big::zero();
    let mut any = false;
    let mut bin_exp: i64 = 0;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_point => {
                seen_point = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        any = true;
        if !value.is_zero() || d != 0 {
            value.mul_add(16, u32::from(d));
            if seen_point {
                bin_exp -= 4;
            }
        } else if seen_point {
            bin_exp -= 4;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < s.len() {
        if s[i] | 0x20 != b'p' {
            return None;
        }
        i += 1;
        let (eneg, rest) = match s.get(i) {
            Some(b'-') => (true, &s[i + 1..]),
            Some(b'+') => (false, &s[i + 1..]),
            _ => (false, &s[i..]),
        };
        if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut e: i64 = 0;
        for &d in rest {
            e = (e * 10 + i64::from(d - b'0')).min(1_000_000_000);
        }
        bin_exp += if eneg { -e } else { e };
    }
    if value.is_zero() {
        return Some(Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    // The top 128 bits, the rest as sticky.
    let bits = value.bit_len();
    let (top, sticky, exp) = if bits > 128 {
        let cut = bits - 128;
        let sticky = value.low_bits_nonzero(cut);
        value.shr(cut);
        (value.low_u128(), sticky, bin_exp + i64::from(cut))
    } else {
        (value.low_u128(), false, bin_exp)
    };
    let exp = i32::try_from(exp.clamp(-100_000, 100_000)).ok()?;
    match LongDouble::round(neg, top, exp, sticky) {
        Inf { .. } => None,
        Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

/// A nonnegative big integer, little-endian 32-bit limbs, no trailing zero limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bit_len(&self) -> u32 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u32 - 1) * 32 + (32 - top.leading_zeros()),
        }
    }

    /// An upper bound of the number of decimal digits.
    fn decimal_digits_upper(&self) -> u32 {
        // log10(2) < 0.30103
        self.bit_len() * 30103 / 100_000 + 1
    }

    /// `self = self * m + a`.
    fn mul_add(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut n: u32) {
        while n >= 9 {
            self.mul_add(1_000_000_000, 0);
            n -= 9;
        }
        if n > 0 {
            self.mul_add(10u32.pow(n), 0);
        }
    }

    fn shl(&mut self, bits: u32) {
        if self.is_zero() || bits == 0 {
            return;
        }
        let limbs = (bits / 32) as usize;
        let rem = bits % 32;
        if rem != 0 {
            let mut carry = 0u32;
            for limb in &mut self.0 {
                let v = *limb;
                *limb = (v << rem) | carry;
                carry = v >> (32 - rem);
            }
            if carry != 0 {
                self.0.push(carry);
            }
        }
        if limbs > 0 {
            self.0.splice(0..0, std::iter::repeat_n(0, limbs));
        }
    }

    fn shr(&mut self, bits: u32) {
        let limbs = (bits / 32) as usize;
        if limbs >= self.0.len() {
            self.0.clear();
            return;
        }
        self.0.drain(..limbs);
        let rem = bits % 32;
        if rem != 0 {
            let n = self.0.len();
            for i in 0..n {
                let hi = if i + 1 < n {
                    self.0[i + 1] << (32 - rem)
                } else {
                    0
                };
                self.0[i] = (self.0[i] >> rem) | hi;
            }
        }
        self.trim();
    }

    /// Whether any of the lowest `bits` bits is set.
    fn low_bits_nonzero(&self, bits: u32) -> bool {
        let limbs = (bits / 32) as usize;
        if self.0.iter().take(limbs).any(|&l| l != 0) {
            return true;
        }
        let rem = bits % 32;
        rem != 0
            && self
                .0
                .get(limbs)
                .is_some_and(|&l| l & ((1u32 << rem) - 1) != 0)
    }

    fn low_u128(&self) -> u128 {
        self.0
            .iter()
            .take(4)
            .enumerate()
            .fold(0u128, |acc, (i, &l)| acc | (u128::from(l) << (32 * i)))
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// `self -= other`; `self >= other`.
    fn sub(&mut self, other: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let o = i64::from(other.0.get(i).copied().unwrap_or(0));
            let mut v = i64::from(self.0[i]) - o - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            self.0[i] = v as u32;
        }
        self.trim();
    }

    /// Decimal digits, by repeated division by 10^9.
    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut n = self.0.clone();
        let mut chunks = Vec::new();
        while !n.is_empty() {
            let mut rem = 0u64;
            for limb in n.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while n.last() == Some(&0) {
                n.pop();
            }
            chunks.push(rem as u32);
        }
        let mut s = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::LongDouble;

    fn sum(a: &str, b: &str) -> String {
        let a = LongDouble::parse(a.as_bytes()).unwrap();
        let b = LongDouble::parse(b.as_bytes()).unwrap();
        a.add(b).to_human()
    }

    /// Replies of redis-server 7.0 (x86-64) to `INCRBYFLOAT`.
    #[test]
    fn sums_as_redis_prints_them() {
        assert_eq!(sum("0", "0.1"), "0.1");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("1", "-1.1"), "-0.1");
        assert_eq!(sum("0", "5.0e3"), "5000");
        assert_eq!(sum("0", "12345678901234567"), "12345678901234567");
        assert_eq!(sum("0", "0x10"), "16");
        assert_eq!(sum("0", "1e-20"), "0");
        assert_eq!(sum("17179869184", "1.5"), "17179869185.5");
        assert_eq!(sum("17179869184", "17179869184"), "34359738368");
        assert_eq!(
            sum("0", "1e300"),
            "1000000000000000000008997324079559193870523944273290747938260082321265646\
             596180935755849152083750497190350372508614274835903592556184672983913096\
             260520748646287327135641843653294084255107606016789726652932370030551382\
             947620994540294772781889620606179267611627097410650567187386105690089424\
             915104006144"
        );
        let third = "0.024390243902439025";
        assert_eq!(sum(&sum("0", third), "-0.024390243902439025"), "0");
    }

    #[test]
    fn timeouts_in_milliseconds_as_redis_rounds_them() {
        let ms = |s: &str| LongDouble::parse(s.as_bytes()).unwrap().times_1000_ceil();
        assert_eq!(ms("1"), 1000);
        assert_eq!(ms("0.1"), 100);
        assert_eq!(ms("0.001"), 1);
        assert_eq!(ms("0.0001"), 1);
        assert_eq!(ms("1e-300"), 1);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("-0.0001"), 0);
        assert_eq!(ms("-0.001"), 0);
        assert_eq!(ms("-1"), -1000);
        assert_eq!(ms("1.9999"), 2000);
        assert_eq!(ms("9223372036854775"), 9_223_372_036_854_775_000);
        assert_eq!(ms("1e30"), i64::MIN);
        assert_eq!(ms("inf"), i64::MIN);
        assert_eq!(ms("-inf"), i64::MIN);
    }

    #[test]
    fn parsing_refuses_what_strtold_does_not_take_whole() {
        for bad in [
            "", " 1", "1 ", "abc", "1e", "1e+", ".", "-", "0x", "nan", "1\x002", "1e5000",
            "1e-5000", "++1",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert!(LongDouble::parse(b"-inf").unwrap().is_inf());
        assert!(LongDouble::parse(b"Infinity").unwrap().is_inf());
        assert_eq!(LongDouble::parse(b"-0").unwrap().to_human(), "0");
        assert_eq!(LongDouble::parse(b"1.").unwrap().to_human(), "1");
        assert_eq!(LongDouble::parse(b".5").unwrap().to_human(), "0.5");
        assert_eq!(LongDouble::parse(b"0x1.8p1").unwrap().to_human(), "3");
        let big = LongDouble::parse(b"1e4932").unwrap();
        assert!(!big.is_inf());
        assert!(big.add(big).is_inf(), "over the largest long double");
    }
}
