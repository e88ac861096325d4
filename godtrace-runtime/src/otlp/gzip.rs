//! gzip (RFC 1952) for export requests, written by godtrace's own deflate encoder (RFC 1951:
//! one block of the fixed Huffman codes, or stored blocks when that would be larger).
//!
//! Why not a general compressor: most of a trace request is spans with nothing recorded, each
//! the same bytes as the previous span of its call site but for its ids, times and flags. Told
//! where the spans are and their call sites, the encoder compares each with the last one of
//! its site and length and writes each equal stretch as one back-reference: no hashing, no
//! search. Every other byte (the resource, spans that recorded something, metrics) goes
//! through a single-candidate hash matcher, as zlib's fastest level does. On span batches that
//! is less than half the instructions of zlib-rs at its fastest level, for about the same size
//! (BENCHMARKS.md).
use std::ops::Range;

/// Deflate's farthest back-reference.
const WINDOW: usize = 32 * 1024;
/// The shortest back-reference written: a shorter one saves little or nothing over literals.
const MIN_MATCH: usize = 4;
/// Deflate's longest back-reference.
const MAX_MATCH: usize = 258;
/// log2 of the hash matcher's table size.
const HASH_BITS: u32 = 14;
/// How many kinds and lengths of records are remembered at once (the last record of each).
const ALIKE_SLOTS: usize = 64;
/// Bytes of the largest stored block.
const STORED_MAX: usize = 65_535;
/// The member's header: magic, deflate, no flags, no time, no extra flags, unknown system.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A stretch of the input likely to repeat an earlier one of its kind and length byte for byte
/// but in a few places: an export request's span (its kind: its call site).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) range: Range<usize>,
    /// Records of one kind and length are laid out alike. 0: of no known kind (never
    /// compared with another).
    pub(crate) kind: usize,
}

/// A gzip encoder kept for a transport's life (its table is allocated once).
pub(crate) struct Gzip {
    /// Per hash of four bytes, the last position the matcher saw them at, in this request or
    /// an earlier one: every candidate is checked against the bytes before it is used, so a
    /// stale one costs a compare, never a wrong reference, and nothing needs clearing.
    last_at: Box<[u32]>,
}

impl Gzip {
    pub(crate) fn new() -> Gzip {
        Gzip {
            last_at: vec![0; 1 << HASH_BITS].into_boxed_slice(),
        }
    }

    /// Appends `input` as one gzip member to `out`. `records` are stretches of `input`,
    /// ascending and disjoint, each likely to repeat the last one of its kind and length (an
    /// export request's spans): any records give a correct member (those out of order or out
    /// of bounds are treated as plain bytes), good ones a small member, fast.
    pub(crate) fn compress(&mut self, input: &[u8], records: &[Record], out: &mut Vec<u8>) {
        let start = out.len();
        // Spans compress about fourfold (more with `include_args` strings and the like): room
        // for that; what compresses worse grows it.
        out.reserve(HEADER.len() + input.len() / 4 + 1024);
        out.extend_from_slice(&HEADER);
        let deflated = out.len();
        let stored = stored_len(input.len());
        // Past the stored blocks' size, the rest of the work would be thrown away.
        if !self.deflate(input, records, out, deflated + stored) || out.len() - deflated > stored {
            out.truncate(deflated);
            put_stored(input, out);
        }
        let mut crc = flate2::Crc::new();
        crc.update(input);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        debug_assert!(out.len() - start <= HEADER.len() + stored + 8);
        // The body is held while it is sent: not with up to twice the room it needs (what did
        // not compress grew the buffer past its size).
        if out.capacity() > out.len() + out.len() / 2 + 4096 {
            out.shrink_to_fit();
        }
    }

    /// `input` as one final block of the fixed codes; `false` (and a part written) once the
    /// output passes `give_up_at` bytes.
    fn deflate(
        &mut self,
        input: &[u8],
        records: &[Record],
        out: &mut Vec<u8>,
        give_up_at: usize,
    ) -> bool {
        let mut bits = BitWriter {
            out,
            bits: 0,
            count: 0,
            give_up_at,
            given_up: false,
        };
        // BFINAL, then BTYPE 01 (fixed codes), least significant bit first.
        bits.put(0b011, 3);
        // The last record seen of each kind and length: (start, length, kind), by a hash of
        // the two.
        let mut last_alike = [(0, 0, 0); ALIKE_SLOTS];
        let mut done = 0;
        for record in records {
            let Range { start, end } = record.range;
            if start < done || end < start || end > input.len() {
                continue;
            }
            if done < start {
                self.put_searched(&mut bits, input, done, start);
            }
            let len = end - start;
            let slot = &mut last_alike[alike_slot(len, record.kind)];
            let (earlier, earlier_len, earlier_kind) =
                std::mem::replace(slot, (start, len, record.kind));
            // Alike: most likely the same layout, fields at the same places. The records are
            // disjoint and ascending: the earlier one ends before this one starts.
            if record.kind != 0
                && earlier_kind == record.kind
                && earlier_len == len
                && start > earlier
                && start - earlier <= WINDOW
            {
                let distance = start - earlier;
                let (earlier, record) = (&input[earlier..earlier + len], &input[start..end]);
                put_aligned(&mut bits, record, earlier, distance);
            } else {
                self.put_searched(&mut bits, input, start, end);
            }
            done = end;
            if bits.gave_up() {
                return false;
            }
        }
        self.put_searched(&mut bits, input, done, input.len());
        if bits.gave_up() {
            return false;
        }
        // The end of the block.
        bits.put(0, 7);
        bits.finish();
        true
    }

    /// `input[from..to]`, with back-references to earlier bytes found by a hash of four bytes.
    fn put_searched(&mut self, bits: &mut BitWriter<'_>, input: &[u8], from: usize, to: usize) {
        let mut at = from;
        let mut literals_from = from;
        // The literals held back count: on data that does not compress, nothing else is
        // written until the end.
        while at + MIN_MATCH <= to && !bits.gave_up_with(at - literals_from) {
            let four = read_u32(input, at);
            let slot = &mut self.last_at[hash(four)];
            let candidate = *slot as usize;
            // Positions past 4 GiB wrap: the checks below make any candidate safe.
            *slot = at as u32;
            if candidate < at && at - candidate <= WINDOW && read_u32(input, candidate) == four {
                let limit = to.min(at + MAX_MATCH);
                // `candidate < at`: its bytes reach at least as far as `limit`.
                let len = MIN_MATCH
                    + common_prefix(
                        &input[candidate + MIN_MATCH..],
                        &input[at + MIN_MATCH..limit],
                    );
                put_literals(bits, &input[literals_from..at]);
                put_match(bits, len, distance_code(at - candidate));
                at += len;
                literals_from = at;
            } else {
                at += 1;
            }
        }
        if !bits.gave_up_with(to - literals_from) {
            put_literals(bits, &input[literals_from..to]);
        }
    }
}

/// The slot of records of `len` bytes and kind `kind`.
fn alike_slot(len: usize, kind: usize) -> usize {
    ((len ^ kind.rotate_left(17)) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize
        >> (usize::BITS - ALIKE_SLOTS.trailing_zeros())
}

/// `record` against `earlier`, a record of the same length `distance` bytes before it: each
/// stretch of at least [`MIN_MATCH`] equal bytes is one back-reference, the rest literals.
fn put_aligned(bits: &mut BitWriter<'_>, record: &[u8], earlier: &[u8], distance: usize) {
    let len = record.len().min(earlier.len());
    let (record, earlier) = (&record[..len], &earlier[..len]);
    let mut aligned = Aligned {
        distance: distance_code(distance),
        literals_from: 0,
        equal_from: 0,
    };
    let (lanes, earlier_lanes) = (record.as_chunks().0, earlier.as_chunks().0);
    let mut at = 0;
    for (a, b) in lanes.iter().zip(earlier_lanes) {
        let differ = differing_in_lane(a, b);
        if differ != 0 {
            aligned.differ_at(bits, record, at, differ);
        }
        at += LANE;
    }
    if at < len {
        let differ = if len >= LANE {
            // The last lane of the record, less the bytes already compared.
            let last = len - LANE;
            differing_in_lane(lane(record, last), lane(earlier, last)) >> (at - last)
        } else {
            (0..len).fold(0, |differ, i| {
                differ | u32::from(record[i] != earlier[i]) << i
            })
        };
        aligned.differ_at(bits, record, at, differ);
    }
    aligned.end(bits, record);
}

/// Where [`put_aligned`] is in its record.
struct Aligned {
    distance: (u32, u32),
    /// The bytes before it are written.
    literals_from: usize,
    /// The bytes from it to those compared are equal to the earlier record's.
    equal_from: usize,
}

impl Aligned {
    /// Takes the bytes from `at` on that differ from the earlier record's, bit `i` of
    /// `differ` for byte `at + i`: the equal stretch before each differing one is written
    /// (as a back-reference when long enough).
    #[inline(always)]
    fn differ_at(&mut self, bits: &mut BitWriter<'_>, record: &[u8], at: usize, mut differ: u32) {
        while differ != 0 {
            let first = differ.trailing_zeros();
            // The stretch of differing bytes from `first`, up to the lane's end at most.
            let run = (!(differ >> first)).trailing_zeros();
            let differ_from = at + first as usize;
            if differ_from - self.equal_from >= MIN_MATCH {
                self.put_equal(bits, record, differ_from);
            }
            self.equal_from = differ_from + run as usize;
            differ &= u32::MAX.checked_shl(first + run).unwrap_or(0);
        }
    }

    /// Writes what is held, and the equal stretch up to `to` as a back-reference.
    #[inline(always)]
    fn put_equal(&mut self, bits: &mut BitWriter<'_>, record: &[u8], to: usize) {
        put_literals(bits, &record[self.literals_from..self.equal_from]);
        put_match(bits, to - self.equal_from, self.distance);
        self.literals_from = to;
    }

    /// Writes the rest of `record`.
    fn end(mut self, bits: &mut BitWriter<'_>, record: &[u8]) {
        if record.len() - self.equal_from >= MIN_MATCH {
            self.put_equal(bits, record, record.len());
        } else {
            put_literals(bits, &record[self.literals_from..]);
        }
    }
}

/// Bytes compared at once.
const LANE: usize = 16;

/// The [`LANE`] bytes at `at` (`at + LANE` is within `bytes`).
#[inline(always)]
fn lane(bytes: &[u8], at: usize) -> &[u8; LANE] {
    bytes[at..at + LANE].try_into().expect("a lane's length")
}

/// Bit `i` set when byte `i` of `a` and `b` differ.
#[inline(always)]
fn differing_in_lane(a: &[u8; LANE], b: &[u8; LANE]) -> u32 {
    let (low, high) = (word(a, 0) ^ word(b, 0), word(a, 8) ^ word(b, 8));
    // Most lanes of a record are equal to the earlier one's: two compares.
    if low | high == 0 {
        return 0;
    }
    u32::from(differing_in_word(low)) | u32::from(differing_in_word(high)) << 8
}

/// Bit `i` set when byte `i` of `x` (little-endian) is not zero.
#[inline(always)]
fn differing_in_word(x: u64) -> u8 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // Each byte's top bit: set when its low seven bits are not all zero (their sum with 0x7f
    // carries into it, and never out of the byte) or it is set itself.
    let tops = (((x & LOW7) + LOW7) | x) & !LOW7;
    // Gathers the eight top bits into the top byte, byte `i`'s at bit `56 + i`.
    ((tops >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// The eight bytes at `at` (`at + 8` is within `bytes`).
#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut eight = [0; 8];
    eight.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(eight)
}

/// How many bytes at the start of `a` and `b` are equal (`a` at least as long as `b`).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    while n + 8 <= b.len() {
        let differ = word(a, n) ^ word(b, n);
        if differ != 0 {
            return n + (differ.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < b.len() && a[n] == b[n] {
        n += 1;
    }
    n
}

/// The four bytes at `at` (the callers keep `at + 4` within `bytes`; zero past the end).
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|four| four.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

fn hash(four: u32) -> usize {
    (four.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

#[inline(always)]
fn put_literals(bits: &mut BitWriter<'_>, bytes: &[u8]) {
    // Two at a time: at most 18 bits.
    let mut pairs = bytes.chunks_exact(2);
    for pair in &mut pairs {
        let (a, a_len) = LITERALS[pair[0] as usize];
        let (b, b_len) = LITERALS[pair[1] as usize];
        bits.put(a | (b << a_len), a_len + b_len);
    }
    for &byte in pairs.remainder() {
        let (code, len) = LITERALS[byte as usize];
        bits.put(code, len);
    }
}

/// A back-reference of `len` bytes (at least 3), `distance` back (its [`distance_code`]);
/// several when longer than deflate's longest.
#[inline(always)]
fn put_match(bits: &mut BitWriter<'_>, mut len: usize, distance: (u32, u32)) {
    let (distance_code, distance_len) = distance;
    while len > 0 {
        let mut part = len.min(MAX_MATCH);
        // What is left must itself be a back-reference of at least 3 bytes.
        if len - part > 0 && len - part < 3 {
            part = len - 3;
        }
        let (code, code_len) = LENGTHS[part];
        bits.put(code, code_len);
        bits.put(distance_code, distance_len);
        len -= part;
    }
}

/// A distance's fixed code (5 bits) and extra bits, as written, and their length.
#[inline(always)]
fn distance_code(distance: usize) -> (u32, u32) {
    let x = (distance - 1) as u32;
    if x < 4 {
        return (reversed(x, 5), 5);
    }
    let top = 31 - x.leading_zeros();
    let code = 2 * top + ((x >> (top - 1)) & 1);
    let extra = x & ((1 << (top - 1)) - 1);
    (reversed(code, 5) | (extra << 5), 5 + top - 1)
}

/// `code`'s `len` bits in the order deflate writes a Huffman code (most significant first),
/// for a writer that packs from the least significant bit.
const fn reversed(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// Each byte's literal code (RFC 1951, 3.2.6), as written, and its length.
const LITERALS: [(u32, u32); 256] = {
    let mut table = [(0, 0); 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte as usize] = if byte < 144 {
            (reversed(0x30 + byte, 8), 8)
        } else {
            (reversed(0x190 + byte - 144, 9), 9)
        };
        byte += 1;
    }
    table
};

/// Each back-reference length's code and extra bits (RFC 1951, 3.2.5), as written, and their
/// length; indexed by the length (3 to 258).
const LENGTHS: [(u32, u32); MAX_MATCH + 1] = {
    let mut table = [(0, 0); MAX_MATCH + 1];
    let mut len = 3;
    while len <= MAX_MATCH as u32 {
        let x = len - 3;
        let (symbol, extra_len, extra) = if len == 258 {
            (285, 0, 0)
        } else if x < 8 {
            (257 + x, 0, 0)
        } else {
            let top = 31 - x.leading_zeros();
            (
                257 + 4 * (top - 1) + ((x >> (top - 2)) & 3),
                top - 2,
                x & ((1 << (top - 2)) - 1),
            )
        };
        let (code, code_len) = if symbol < 280 {
            (reversed(symbol - 256, 7), 7)
        } else {
            (reversed(0xC0 + symbol - 280, 8), 8)
        };
        table[len as usize] = (code | (extra << code_len), code_len + extra_len);
        len += 1;
    }
    table
};

/// Bytes of `len` input bytes in stored blocks.
fn stored_len(len: usize) -> usize {
    len + 5 * len.div_ceil(STORED_MAX).max(1)
}

/// `input` as stored blocks, the last one final (RFC 1951, 3.2.4).
fn put_stored(input: &[u8], out: &mut Vec<u8>) {
    let mut blocks = input.chunks(STORED_MAX).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
        return;
    }
    while let Some(block) = blocks.next() {
        // BFINAL, BTYPE 00, then padding to the byte: one byte.
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

/// Packs codes into bytes from the least significant bit, as deflate does.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    bits: u64,
    /// Bits held in `bits`, fewer than 32 between calls.
    count: u32,
    /// The length of `out` past which the caller stops writing.
    give_up_at: usize,
    /// Set when `out` and the literals held back passed it.
    given_up: bool,
}

impl BitWriter<'_> {
    /// Writes the `len` (at most 32) low bits of `code`.
    #[inline(always)]
    fn put(&mut self, code: u32, len: u32) {
        self.bits |= u64::from(code) << self.count;
        self.count += len;
        if self.count >= 32 {
            self.out
                .extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.count -= 32;
        }
    }

    /// Whether `out` has passed the length the caller gives up at.
    #[inline(always)]
    fn gave_up(&mut self) -> bool {
        self.gave_up_with(0)
    }

    /// [`BitWriter::gave_up`] once `literals` more bytes (a byte each at least) are written;
    /// once it is, for good.
    #[inline(always)]
    fn gave_up_with(&mut self, literals: usize) -> bool {
        if self.out.len() + literals > self.give_up_at {
            self.given_up = true;
        }
        self.given_up
    }

    /// Writes what is held, padded to the byte.
    fn finish(self) {
        let bytes = self.count.div_ceil(8) as usize;
        self.out
            .extend_from_slice(&self.bits.to_le_bytes()[..bytes]);
    }
}

#[cfg(test)]
pub(super) mod tests;
