//! `DUMP` and `RESTORE`: a value serialized as Redis 7.0 serializes it, so that a dump
//! taken here restores into redis-server and a redis-server dump of a string, set, hash or
//! sorted set in the plain encodings restores here.
//!
//! The payload is a value in the RDB file format, then the RDB version (2 bytes, little
//! endian) and a CRC-64 (Jones polynomial, as Redis's `crc64`) of everything before it
//! (8 bytes, little endian). This server writes the plain RDB types, which every Redis
//! since 2.6 reads: `0` string, `1` list, `2` set, `4` hash, `5` sorted set with binary
//! scores. It reads those, `3` (sorted set with scores as text), and strings in the
//! integer and LZF-compressed encodings redis-server writes. Redis 7.0's compact types
//! (listpack, intset, quicklist: what redis-server dumps for small collections and
//! every list) are refused as `Bad data format`: parsing them is not implemented.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[spec("dump", 2, false), spec("restore", -4, true)];

/// The RDB version Redis 7.0 writes, and the newest it reads.
const RDB_VERSION: u16 = 10;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;

const BAD_FORMAT: &str = "ERR Bad data format";

/// Redis's `crc64`: CRC-64/Jones, reflected, as the catalogue's `CRC-64/REDIS`.
const CRC64: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);

/// Appends an RDB length.
fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if let Ok(l) = u32::try_from(len) {
        out.push(0x80);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends an RDB string (plain: length and bytes).
fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len());
    out.extend_from_slice(s);
}

/// The `DUMP` payload of `value`.
pub(super) fn serialize(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.cost() + 16);
    match value {
        Value::Str(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s);
        }
        Value::List(l) => {
            out.push(TYPE_LIST);
            put_len(&mut out, l.len());
            for e in l {
                put_string(&mut out, e);
            }
        }
        Value::Set(m) => {
            out.push(TYPE_SET);
            put_len(&mut out, m.len());
            for e in m {
                put_string(&mut out, e);
            }
        }
        Value::Hash(h) => {
            out.push(TYPE_HASH);
            put_len(&mut out, h.len());
            for (f, v) in h {
                put_string(&mut out, f);
                put_string(&mut out, v);
            }
        }
        Value::ZSet(z) => {
            out.push(TYPE_ZSET_2);
            put_len(&mut out, z.len());
            for (m, s) in z.iter() {
                put_string(&mut out, m);
                out.extend_from_slice(&s.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = CRC64.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Whether `payload` ends with a version this server reads and a checksum that matches
/// (Redis's `verifyDumpPayload`).
fn verify(payload: &[u8]) -> bool {
    if payload.len() < 10 {
        return false;
    }
    let (body, footer) = payload.split_at(payload.len() - 8);
    let version = u16::from_le_bytes([body[body.len() - 2], body[body.len() - 1]]);
    version <= RDB_VERSION && CRC64.checksum(body).to_le_bytes() == footer
}

/// A reader of RDB items; every read is bounds-checked (`None`: bad data).
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

/// How an RDB length field reads: a length, or the number of a special string encoding.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.data.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn len_field(&mut self) -> Option<Len> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain(u64::from(first & 0x3f) << 8 | u64::from(self.byte()?)),
            3 => Len::Encoded(first & 0x3f),
            _ => match first {
                0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                    self.take(4)?.try_into().ok()?,
                ))),
                0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
                _ => return None,
            },
        })
    }

    /// A length, bounded by what is left to read (every item takes at least a byte), so
    /// a forged length cannot make us reserve memory.
    fn len(&mut self) -> Option<usize> {
        match self.len_field()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).ok()?;
                (n <= self.data.len() - self.at).then_some(n)
            }
            Len::Encoded(_) => None,
        }
    }

    fn string(&mut self) -> Option<Vec<u8>> {
        match self.len_field()? {
            Len::Plain(n) => Some(self.take(usize::try_from(n).ok()?)?.to_vec()),
            // Integers, little endian.
            Len::Encoded(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Len::Encoded(1) => {
                let b = self.take(2)?;
                Some(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
            }
            Len::Encoded(2) => {
                let b = self.take(4)?.try_into().ok()?;
                Some(i32::from_le_bytes(b).to_string().into_bytes())
            }
            Len::Encoded(3) => {
                let compressed = self.len()?;
                let len = match self.len_field()? {
                    Len::Plain(n) => usize::try_from(n).ok()?,
                    Len::Encoded(_) => return None,
                };
                if len > MAX_STRING {
                    return None;
                }
                lzf_decompress(self.take(compressed)?, len)
            }
            Len::Encoded(_) => None,
        }
    }

    /// A score written as text (RDB type 3): a length byte, or 253 NaN, 254 +inf,
    /// 255 -inf.
    fn text_score(&mut self) -> Option<f64> {
        match self.byte()? {
            253 => None,
            254 => Some(f64::INFINITY),
            255 => Some(f64::NEG_INFINITY),
            n => std::str::from_utf8(self.take(usize::from(n))?)
                .ok()?
                .parse()
                .ok(),
        }
    }

    fn binary_score(&mut self) -> Option<f64> {
        let v = f64::from_le_bytes(self.take(8)?.try_into().ok()?);
        (!v.is_nan()).then_some(v)
    }
}

/// LZF decompression (liblzf's `lzf_decompress`) of `input` into exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = input.get(i..i + ctrl + 1)?;
            if out.len() + run.len() > len {
                return None;
            }
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let from = out.len().checked_sub(back)?;
            if out.len() + n + 2 > len {
                return None;
            }
            // The copy may overlap what it writes: byte by byte.
            for k in 0..n + 2 {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    (out.len() == len).then_some(out)
}

/// The value a payload holds (its version and checksum already verified); `None` for
/// anything this server does not read, or an empty collection (as Redis refuses it).
fn deserialize(payload: &[u8]) -> Option<Value> {
    let mut r = Reader {
        data: &payload[..payload.len() - 10],
        at: 0,
    };
    let value = match r.byte()? {
        TYPE_STRING => Value::Str(Rc::new(r.string()?)),
        TYPE_LIST => {
            let n = r.len()?;
            let mut l = VecDeque::with_capacity(n);
            for _ in 0..n {
                l.push_back(Rc::new(r.string()?));
            }
            Value::List(l)
        }
        TYPE_SET => {
            let n = r.len()?;
            let mut m = IndexSet::with_capacity(n);
            for _ in 0..n {
                m.insert(r.string()?);
            }
            Value::Set(m)
        }
        TYPE_HASH => {
            let n = r.len()?;
            let mut h = IndexMap::with_capacity(n);
            for _ in 0..n {
                let f = r.string()?;
                h.insert(f, r.string()?);
            }
            Value::Hash(h)
        }
        t @ (TYPE_ZSET | TYPE_ZSET_2) => {
            let n = r.len()?;
            let mut z = zsets::ZSet::default();
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == TYPE_ZSET {
                    r.text_score()?
                } else {
                    r.binary_score()?
                };
                z.insert(&m, s);
            }
            Value::ZSet(z)
        }
        _ => return None,
    };
    (!value.is_empty_collection()).then_some(value)
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_dump(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "dump" => match self.live(args[1], now) {
                None => out.nil(),
                Some(e) => out.bulk(&serialize(&e.value)),
            },
            "restore" => self.restore(args, now, out),
            _ => return None,
        }
        Some(Flow::Continue)
    }

    /// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
    /// [FREQ frequency]`, with Redis 7.0's checks in its order. `IDLETIME` and `FREQ` are
    /// checked and have no effect (this server keeps no access times).
    fn restore(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (mut replace, mut absttl) = (false, false);
        let (mut idle, mut freq) = (false, false);
        let mut j = 4;
        while j < args.len() {
            let a = args[j];
            let more = args.len() - j - 1;
            if a.eq_ignore_ascii_case(b"replace") {
                replace = true;
            } else if a.eq_ignore_ascii_case(b"absttl") {
                absttl = true;
            } else if a.eq_ignore_ascii_case(b"idletime") && more >= 1 && !freq {
                match parse_i64(args[j + 1]) {
                    None => return out.error(NOT_INTEGER),
                    Some(n) if n < 0 => {
                        return out.error("ERR Invalid IDLETIME value, must be >= 0")
                    }
                    Some(_) => idle = true,
                }
                j += 1;
            } else if a.eq_ignore_ascii_case(b"freq") && more >= 1 && !idle {
                match parse_i64(args[j + 1]) {
                    None => return out.error(NOT_INTEGER),
                    Some(n) if !(0..=255).contains(&n) => {
                        return out.error("ERR Invalid FREQ value, must be >= 0 and <= 255")
                    }
                    Some(_) => freq = true,
                }
                j += 1;
            } else {
                return out.error(SYNTAX);
            }
            j += 1;
        }
        let key = args[1];
        if !replace && self.live(key, now).is_some() {
            return out.error("BUSYKEY Target key name already exists.");
        }
        let ttl = match parse_i64(args[2]) {
            None => return out.error(NOT_INTEGER),
            Some(t) if t < 0 => return out.error("ERR Invalid TTL value, must be >= 0"),
            Some(t) => t,
        };
        if !verify(args[3]) {
            return out.error("ERR DUMP payload version or checksum are wrong");
        }
        let Some(value) = deserialize(args[3]) else {
            return out.error(BAD_FORMAT);
        };
        if replace {
            self.remove(key);
        }
        let now_unix = unix_ms();
        let at = match ttl {
            0 => None,
            t if absttl => Some(t),
            t => Some(t.saturating_add(now_unix)),
        };
        if at.is_some_and(|at| at <= now_unix) {
            // Already expired: nothing is stored.
            return out.simple("OK");
        }
        self.put(key, value, false, now);
        if let Some(at) = at {
            self.expire_at_unix(key, at, now, now_unix);
        }
        out.simple("OK");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_redis_s() {
        // The check value of Redis's crc64.c test.
        assert_eq!(CRC64.checksum(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn every_type_round_trips() {
        let mut z = zsets::ZSet::default();
        z.insert(b"a", 1.5);
        z.insert(b"b", f64::NEG_INFINITY);
        let values = [
            Value::Str(blob(b"hello")),
            Value::Str(blob(&vec![b'x'; 70_000])),
            Value::List([blob(b"1"), blob(b""), blob(&[0xff; 100])].into()),
            Value::Set(IndexSet::from([b"m".to_vec(), b"n".to_vec()])),
            Value::Hash(IndexMap::from([(b"f".to_vec(), b"v".to_vec())])),
            Value::ZSet(z),
        ];
        for v in values {
            let p = serialize(&v);
            assert!(verify(&p));
            assert_eq!(deserialize(&p), Some(v));
        }
    }

    #[test]
    fn bad_payloads_are_refused_without_panicking() {
        let good = serialize(&Value::List([blob(b"abc"), blob(b"def")].into()));
        for cut in 0..good.len() {
            assert!(!verify(&good[..cut]) || deserialize(&good[..cut]).is_none());
        }
        let mut flipped = good.clone();
        flipped[3] ^= 1;
        assert!(!verify(&flipped));
        // A forged huge length with a valid checksum.
        let mut forged = vec![TYPE_LIST, 0x81];
        forged.extend_from_slice(&u64::MAX.to_be_bytes());
        forged.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = CRC64.checksum(&forged);
        forged.extend_from_slice(&crc.to_le_bytes());
        assert!(verify(&forged));
        assert_eq!(deserialize(&forged), None);
    }

    #[test]
    fn lzf_decompresses_literals_and_back_references() {
        // "abcabcabc": a literal run of 3, then a back reference of 6 bytes at distance 3.
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(
            lzf_decompress(&input, 9).as_deref(),
            Some(&b"abcabcabc"[..])
        );
        assert_eq!(lzf_decompress(&input, 8), None);
        assert_eq!(lzf_decompress(&[0x20, 5], 3), None);
    }
}
