use super::*;
use std::io::Read as _;

/// `member` inflated by an independent decoder (flate2's).
pub(in crate::otlp) fn gunzip(member: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(member)
        .read_to_end(&mut plain)
        .expect("a gzip member");
    plain
}

fn compressed(gzip: &mut Gzip, input: &[u8], records: &[Record]) -> Vec<u8> {
    let mut out = vec![7; 3];
    gzip.compress(input, records, &mut out);
    assert_eq!(out[..3], [7; 3], "appended, nothing before it touched");
    out.split_off(3)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Spans as an export request has them: a few call sites' bytes, each with its ids and times
/// (random) at the same places, between bytes of other kinds.
fn span_like(rng: &mut Rng, spans: usize, sites: usize) -> (Vec<u8>, Vec<Record>) {
    let templates: Vec<Vec<u8>> = (0..sites)
        .map(|site| {
            let len = 150 + 37 * site;
            (0..len)
                .map(|i| b"code.function.name"[i % 18] ^ site as u8)
                .collect()
        })
        .collect();
    let mut input = b"resource: service.name=checkout".to_vec();
    let mut records = Vec::new();
    for n in 0..spans {
        let site = n * 7 % sites;
        let template = &templates[site];
        let start = input.len();
        input.extend_from_slice(template);
        for byte in &mut input[start + 2..start + 34] {
            *byte = rng.next() as u8;
        }
        records.push(Record {
            range: start..input.len(),
            kind: site + 1,
        });
        if n % 5 == 0 {
            input.extend_from_slice(b"status");
        }
    }
    (input, records)
}

#[test]
fn members_decode_to_their_input_whatever_the_records_say() {
    let mut gzip = Gzip::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..400 {
        let len = match case % 4 {
            0 => rng.below(64),
            1 => rng.below(5_000),
            _ => rng.below(200_000),
        };
        // Random, repetitive or in between: literals, long references and both.
        let alphabet = [256, 4, 2, 1][case % 4];
        let input: Vec<u8> = (0..len).map(|_| rng.below(alphabet) as u8).collect();
        // Records good, overlapping, out of order, past the end, empty.
        let mut records: Vec<Record> = (0..rng.below(40))
            .map(|_| {
                let start = rng.below(len + 10);
                Record {
                    range: start..start + rng.below(300),
                    kind: rng.below(3),
                }
            })
            .collect();
        if case % 3 == 0 {
            records.sort_by_key(|r| r.range.start);
        }
        let member = compressed(&mut gzip, &input, &records);
        assert_eq!(gunzip(&member), input, "case {case}, {len} bytes");
    }
}

#[test]
fn span_records_compress_like_a_general_compressor_and_decode() {
    let mut gzip = Gzip::new();
    let mut rng = Rng(7);
    for sites in [1, 3, 70] {
        let (input, records) = span_like(&mut rng, 2_000, sites);
        let member = compressed(&mut gzip, &input, &records);
        assert_eq!(gunzip(&member), input);
        let mut zlib = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut zlib, &input).unwrap();
        let zlib = zlib.finish().unwrap();
        // Each span's 32 random bytes cannot shrink much: a little under half the input
        // here, with sites that repeat.
        assert!(
            member.len() < zlib.len() + zlib.len() / 5,
            "{sites} sites: {} bytes, a general compressor {}",
            member.len(),
            zlib.len()
        );
        assert!(
            member.len() * 2 < input.len(),
            "{sites} sites: {} of {}",
            member.len(),
            input.len()
        );
    }
}

#[test]
fn records_of_one_length_far_apart_or_near_every_bound_decode() {
    let mut gzip = Gzip::new();
    let mut rng = Rng(99);
    // Records of one length exactly WINDOW apart (a reference to the farthest byte), one
    // byte farther (none), and records longer than the longest reference, equal but for
    // one byte at each place.
    for (gap, len) in [
        (WINDOW - 300, 300),
        (WINDOW - 299, 300),
        (0, 1_000),
        (5, 259),
        (1, 4),
    ] {
        let record: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for changed in [None, Some(0), Some(len / 2), Some(len - 1)] {
            let mut input = record.clone();
            input.extend((0..gap).map(|_| rng.next() as u8));
            let second = input.len();
            input.extend_from_slice(&record);
            if let Some(at) = changed {
                input[second + at] ^= 0x55;
            }
            let records = [0..len, second..second + len].map(|range| Record { range, kind: 1 });
            let member = compressed(&mut gzip, &input, &records);
            assert_eq!(
                gunzip(&member),
                input,
                "gap {gap} len {len} changed {changed:?}"
            );
        }
    }
}

#[test]
fn what_does_not_compress_grows_by_the_stored_blocks_heads_at_most() {
    let mut gzip = Gzip::new();
    let mut rng = Rng(3);
    for len in [0, 1, 65_535, 65_536, 300_000] {
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8 | 0x80).collect();
        let whole = [Record {
            range: 0..len,
            kind: 1,
        }];
        let member = compressed(&mut gzip, &input, &whole);
        assert_eq!(gunzip(&member), input, "{len} bytes");
        assert!(
            member.len() <= 18 + stored_len(len),
            "{len} bytes: {}",
            member.len()
        );
    }
}

#[test]
fn the_fixed_codes_are_the_rfcs() {
    // RFC 1951, 3.2.6: literal 0 is 00110000, 143 is 10111111, 144 is 110010000, 255 is
    // 111111111 (most significant bit first); length 3 is symbol 257 (0000001), 258 is 285
    // (11000101); distance 1 is code 0, 32768 is code 29 with 13 extra bits all set.
    let msb_first = |(code, len): (u32, u32)| reversed(code, len);
    assert_eq!(msb_first(LITERALS[0]), 0b0011_0000);
    assert_eq!(msb_first(LITERALS[143]), 0b1011_1111);
    assert_eq!(LITERALS[144], (reversed(0b1_1001_0000, 9), 9));
    assert_eq!(msb_first(LITERALS[255]), 0b1_1111_1111);
    assert_eq!(LENGTHS[3], (reversed(1, 7), 7));
    assert_eq!(LENGTHS[258], (reversed(0b1100_0101, 8), 8));
    // Length 11 is symbol 265 with one extra bit 0, 12 the same with 1.
    assert_eq!(LENGTHS[12], (reversed(9, 7) | 1 << 7, 8));
    assert_eq!(distance_code(1), (0, 5));
    assert_eq!(distance_code(32_768), (reversed(29, 5) | 0x1fff << 5, 18));
}

#[test]
fn records_of_one_length_and_other_kinds_are_not_compared() {
    // Two call sites whose spans have the same length, in turns: compared with each other,
    // half their bytes differ, and the member was larger than the input (stored).
    let mut rng = Rng(11);
    let template = |rng: &mut Rng| (0..200).map(|_| rng.next() as u8).collect::<Vec<u8>>();
    let templates = [template(&mut rng), template(&mut rng)];
    let mut input = Vec::new();
    let mut records = Vec::new();
    for n in 0..500 {
        let start = input.len();
        input.extend_from_slice(&templates[n % 2]);
        for byte in &mut input[start + 4..start + 20] {
            *byte = rng.next() as u8;
        }
        records.push(Record {
            range: start..input.len(),
            kind: n % 2 + 1,
        });
    }
    let mut gzip = Gzip::new();
    let member = compressed(&mut gzip, &input, &records);
    assert_eq!(gunzip(&member), input);
    let unknown = compressed(&mut gzip, &input, &[]);
    assert!(
        member.len() * 5 <= unknown.len() * 6 && member.len() * 4 < input.len(),
        "{} bytes, {} with no records, of {}",
        member.len(),
        unknown.len(),
        input.len()
    );
}

#[test]
fn empty_records_at_one_place_decode() {
    let input = b"hello world hello world";
    let empty = Record {
        range: 5..5,
        kind: 1,
    };
    let member = compressed(&mut Gzip::new(), input, &[empty.clone(), empty]);
    assert_eq!(gunzip(&member), input);
}

#[test]
fn a_member_of_what_does_not_compress_holds_little_more_room_than_it_needs() {
    let mut rng = Rng(5);
    let input: Vec<u8> = (0..4_000_000).map(|_| rng.next() as u8).collect();
    let mut out = Vec::new();
    Gzip::new().compress(&input, &[], &mut out);
    assert_eq!(gunzip(&out), input);
    assert!(
        out.capacity() <= out.len() + out.len() / 2 + 4096,
        "{} of {}",
        out.len(),
        out.capacity()
    );
}

#[test]
fn a_lanes_differing_bytes_are_each_byte_that_differs() {
    let mut rng = Rng(13);
    for case in 0..20_000 {
        let a: [u8; LANE] = std::array::from_fn(|_| rng.next() as u8);
        let mut b = a;
        // From no byte to every byte changed, by any bit (the top one included).
        for _ in 0..case % (LANE + 1) {
            b[rng.below(LANE)] ^= 1 << rng.below(8);
        }
        let expected = (0..LANE).fold(0, |bits, i| bits | u32::from(a[i] != b[i]) << i);
        assert_eq!(differing_in_lane(&a, &b), expected, "{a:?} {b:?}");
    }
    assert_eq!(differing_in_lane(&[0; LANE], &[0x80; LANE]), 0xffff);
    assert_eq!(differing_in_word(0x0100_0000_0000_00ff), 0b1000_0001);
}
