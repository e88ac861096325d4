//! The status of a gRPC-Web answer (`application/grpc-web`, `+proto`, `-text`...): gRPC-Web
//! has no HTTP trailers, so the status comes in the body's last frame, a trailer frame (flag
//! bit 0x80) whose payload is an HTTP/1 header block (`grpc-status:0\r\ngrpc-message:\r\n`).
//! The reader follows the frames' 5-byte headers across the body's chunks with fixed state,
//! passes over the messages and keeps at most [`MAX_TRAILERS`] of the trailer frame.
// Each layer's feature uses its part of this: with all of them on, nothing is unused.
#![cfg_attr(
    not(all(feature = "tower", feature = "reqwest", feature = "tonic")),
    allow(dead_code)
)]
use super::semconv;

/// The most of a trailer frame's payload kept to find its `grpc-status`: a status and a
/// message, with room for some metadata.
const MAX_TRAILERS: usize = 4096;

/// A frame's flag bit that makes it the trailer frame.
const TRAILERS_FLAG: u8 = 0x80;

/// A frame's flag bit that says its payload is compressed.
const COMPRESSED_FLAG: u8 = 0x01;

/// How a gRPC-Web body is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `application/grpc-web[+format]`: the frames as they are.
    Binary,
    /// `application/grpc-web-text[+format]`: the frames in base64.
    Text,
}

/// The gRPC-Web encoding of a response of this `content-type`, or `None` for one that is not
/// gRPC-Web's.
pub(crate) fn encoding(content_type: &[u8]) -> Option<Encoding> {
    let (encoding, rest) = [
        (Encoding::Text, &b"application/grpc-web-text"[..]),
        (Encoding::Binary, b"application/grpc-web"),
    ]
    .into_iter()
    .find_map(|(encoding, name)| {
        let head = content_type.get(..name.len())?;
        head.eq_ignore_ascii_case(name)
            .then(|| (encoding, &content_type[name.len()..]))
    })?;
    // The name ends there: a format (`+proto`), parameters, or nothing.
    matches!(rest.first(), None | Some(b'+' | b';' | b' ' | b'\t')).then_some(encoding)
}

/// What the trailer frame said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Its `grpc-status`: a code, UNKNOWN for a value gRPC does not define.
    Status(i64),
    /// It holds no `grpc-status`: gRPC clients read UNKNOWN, as for a gRPC answer without one.
    NoStatus,
    /// It could not be read (compressed, badly encoded, or its status beyond what is kept):
    /// the status is not known.
    Unreadable,
}

/// Where the reader is in the body's frames.
enum Frames {
    /// In a frame's 5-byte header: those read so far.
    Header { bytes: [u8; 5], read: usize },
    /// In a message's payload: the bytes left of it.
    Message { left: u32 },
    /// In the trailer frame's payload: the bytes left of it, those kept, and whether some
    /// were not.
    Trailers { left: u32, kept: Vec<u8>, cut: bool },
    /// Past the trailer frame (or given up): nothing more to read.
    Over,
}

/// Reads a gRPC-Web body's trailer frame as its chunks are sent (see the module docs).
pub(crate) struct StatusReader {
    frames: Frames,
    /// For a text body: the base64 characters of an unfinished quantum (4 characters, 3
    /// bytes), and how many.
    text: Option<([u8; 4], usize)>,
}

impl StatusReader {
    pub(crate) fn new(encoding: Encoding) -> StatusReader {
        StatusReader {
            frames: Frames::Header {
                bytes: [0; 5],
                read: 0,
            },
            text: (encoding == Encoding::Text).then_some(([0; 4], 0)),
        }
    }

    /// The next bytes of the body, as sent; what the trailer frame said once it ends there.
    pub(crate) fn read(&mut self, chunk: &[u8]) -> Option<Found> {
        if matches!(self.frames, Frames::Over) {
            return None;
        }
        let Some((quantum, filled)) = &mut self.text else {
            return self.frames.read(chunk);
        };
        for &c in chunk {
            quantum[*filled] = c;
            *filled += 1;
            if *filled < 4 {
                continue;
            }
            *filled = 0;
            let found = match crate::base64::decode_quantum(quantum) {
                Some((bytes, len)) => self.frames.read(&bytes[..len]),
                None => self.frames.give_up(),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// A chunk that cannot be read (its bytes are not in one place): the status is not known
    /// unless it was read already.
    pub(crate) fn give_up(&mut self) -> Option<Found> {
        self.frames.give_up()
    }

    /// The body ended: inside a frame (or a text body's base64 quantum), it was cut short,
    /// which gRPC-Web clients read as DATA_LOSS; between frames, its status is whatever was
    /// found (none: UNKNOWN, as for any gRPC answer without one).
    pub(crate) fn at_end(&mut self) -> Option<Found> {
        let mid_quantum = self.text.is_some_and(|(_, filled)| filled > 0);
        let between_frames = matches!(self.frames, Frames::Header { read: 0, .. });
        match std::mem::replace(&mut self.frames, Frames::Over) {
            Frames::Over => None,
            _ if between_frames && !mid_quantum => None,
            _ => Some(Found::Status(semconv::GRPC_DATA_LOSS)),
        }
    }
}

impl Frames {
    fn give_up(&mut self) -> Option<Found> {
        match std::mem::replace(self, Frames::Over) {
            Frames::Over => None,
            _ => Some(Found::Unreadable),
        }
    }

    fn read(&mut self, mut chunk: &[u8]) -> Option<Found> {
        loop {
            if let Some(found) = self.settle() {
                return Some(found);
            }
            if chunk.is_empty() {
                return None;
            }
            let taken = match self {
                Frames::Header { bytes, read } => {
                    let n = (bytes.len() - *read).min(chunk.len());
                    bytes[*read..*read + n].copy_from_slice(&chunk[..n]);
                    *read += n;
                    n
                }
                Frames::Message { left } => {
                    let n = chunk.len().min(*left as usize);
                    *left -= n as u32; // at most `left`
                    n
                }
                Frames::Trailers { left, kept, cut } => {
                    let n = chunk.len().min(*left as usize);
                    let room = MAX_TRAILERS - kept.len();
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                    *cut |= n > room;
                    *left -= n as u32; // at most `left`
                    n
                }
                Frames::Over => return None,
            };
            chunk = &chunk[taken..];
        }
    }

    /// Moves on from a part just completed: a header to its payload, a payload to the next
    /// header; the trailer frame's end gives what it said.
    fn settle(&mut self) -> Option<Found> {
        match self {
            Frames::Header { bytes, read: 5 } => {
                let [flag, length @ ..] = *bytes;
                let left = u32::from_be_bytes(length);
                if flag & !(TRAILERS_FLAG | COMPRESSED_FLAG) != 0 {
                    // A flag gRPC-Web does not define: clients fail the call (tonic's reads
                    // INTERNAL); what it meant is not known.
                    return self.give_up();
                }
                if flag & TRAILERS_FLAG == 0 {
                    *self = Frames::Message { left };
                } else if flag & COMPRESSED_FLAG == 0 {
                    let kept = Vec::with_capacity((left as usize).min(MAX_TRAILERS));
                    *self = Frames::Trailers {
                        left,
                        kept,
                        cut: false,
                    };
                } else {
                    // Compressed with what the answer's `grpc-encoding` names: not read here.
                    return self.give_up();
                }
                self.settle()
            }
            Frames::Message { left: 0 } => {
                *self = Frames::Header {
                    bytes: [0; 5],
                    read: 0,
                };
                None
            }
            Frames::Trailers { left: 0, kept, cut } => {
                let found = status_in(kept, !*cut);
                *self = Frames::Over;
                Some(found)
            }
            _ => None,
        }
    }
}

/// The `grpc-status` of a trailer block: `name:value` lines, each ended by CRLF, read as
/// gRPC-Web clients read them (tonic's): only lines ended by CRLF count, the last
/// `grpc-status` wins, a value is taken without its leading blanks only (`0 ` is no code:
/// UNKNOWN), and a line that is no header (no `:`, or a name that is no HTTP token) makes the
/// block unreadable (clients fail the call). Of its first complete lines only when it is not
/// `whole` (cut at [`MAX_TRAILERS`]): without a status among them, the status is not known.
fn status_in(block: &[u8], whole: bool) -> Found {
    let mut status = None;
    let mut rest = block;
    while let Some(end) = rest.windows(2).position(|pair| pair == b"\r\n") {
        let line = &rest[..end];
        rest = &rest[end + 2..];
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return Found::Unreadable;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| is_token_byte(*b)) {
            return Found::Unreadable;
        }
        if name.eq_ignore_ascii_case(b"grpc-status") {
            let value = &line[colon + 1..];
            let start = value.iter().position(|b| !matches!(b, b' ' | b'\t'));
            let value = start.map_or(&[][..], |start| &value[start..]);
            status = Some(semconv::grpc_status(value).unwrap_or(semconv::GRPC_UNKNOWN));
        }
    }
    match status {
        // Also in a cut block: a second `grpc-status` past the cut (which clients would keep)
        // is far less likely than metadata after the status.
        Some(code) => Found::Status(code),
        None if whole => Found::NoStatus,
        None => Found::Unreadable,
    }
}

/// Whether `b` may be part of an HTTP header name (a token: RFC 9110's `tchar`).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame of `flag` around `payload`.
    fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![flag];
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    /// What `reader` found in `body` sent in chunks of `size` bytes.
    fn read_in_chunks(mut reader: StatusReader, body: &[u8], size: usize) -> Option<Found> {
        body.chunks(size).find_map(|chunk| reader.read(chunk))
    }

    /// Standard base64 with padding, each frame on its own as gRPC-Web text servers send it.
    fn base64(bytes: &[u8]) -> Vec<u8> {
        crate::base64::encode(bytes).into_bytes()
    }

    #[test]
    fn grpc_web_content_types_name_their_encoding() {
        for (content_type, expected) in [
            (&b"application/grpc-web"[..], Some(Encoding::Binary)),
            (b"application/grpc-web+proto", Some(Encoding::Binary)),
            (
                b"Application/gRPC-Web+json; charset=utf-8",
                Some(Encoding::Binary),
            ),
            (b"application/grpc-web-text", Some(Encoding::Text)),
            (b"application/grpc-web-text+proto", Some(Encoding::Text)),
            (b"application/grpc", None),
            (b"application/grpc+proto", None),
            (b"application/grpc-webx", None),
            (b"application/grpc-web-textual", None),
            (b"text/plain", None),
            (b"", None),
        ] {
            assert_eq!(encoding(content_type), expected, "{content_type:?}");
        }
    }

    #[test]
    fn a_trailer_frame_gives_its_status_in_any_chunks() {
        let mut body = frame(0, b"first message");
        body.extend(frame(0, b""));
        body.extend(frame(
            0x80,
            b"grpc-status:5\r\ngrpc-message:not%20found\r\n",
        ));
        for size in [1, 2, 3, 5, 7, body.len()] {
            let reader = StatusReader::new(Encoding::Binary);
            assert_eq!(
                read_in_chunks(reader, &body, size),
                Some(Found::Status(5)),
                "{size}"
            );
            let reader = StatusReader::new(Encoding::Text);
            let mut text = base64(&frame(0, b"message"));
            text.extend(base64(&frame(0x80, b"grpc-status:5\r\n")));
            assert_eq!(
                read_in_chunks(reader, &text, size),
                Some(Found::Status(5)),
                "text in chunks of {size}"
            );
        }
    }

    #[test]
    fn trailer_blocks_read_as_grpc_web_clients_read_them() {
        for (block, expected) in [
            (&b"grpc-status:0\r\ngrpc-message:\r\n"[..], Found::Status(0)),
            (
                b"grpc-message:gone\r\nGrpc-Status: 14\r\n",
                Found::Status(14),
            ),
            (b"grpc-status:05\r\n", Found::Status(semconv::GRPC_UNKNOWN)),
            (b"grpc-status:ok\r\n", Found::Status(semconv::GRPC_UNKNOWN)),
            (b"grpc-message:no status\r\n", Found::NoStatus),
            (b"", Found::NoStatus),
            // As tonic's gRPC-Web client reads them: only lines ended by CRLF count; the last
            // status wins; blanks after a value make it no code; a line that is no header
            // fails the block (clients fail the call: its status is not known).
            (b"grpc-status:0", Found::NoStatus),
            (b"grpc-status:5\n", Found::NoStatus),
            (b"grpc-status:0\r\ngrpc-status:13\r\n", Found::Status(13)),
            (b"grpc-status:\t5\r\n", Found::Status(5)),
            (b"grpc-status:0 \r\n", Found::Status(semconv::GRPC_UNKNOWN)),
            (b"grpc-status:0\r\nno colon\r\n", Found::Unreadable),
            (b"\xff\xfe:\r\n", Found::Unreadable),
            (b"grpc status:0\r\n", Found::Unreadable),
        ] {
            let reader = StatusReader::new(Encoding::Binary);
            let body = frame(0x80, block);
            assert_eq!(
                read_in_chunks(reader, &body, 3),
                Some(expected),
                "{block:?}"
            );
        }
    }

    /// A body that ends inside a frame was cut short: DATA_LOSS, as gRPC-Web clients read
    /// it (even when the part received holds a status); between frames, nothing is found.
    #[test]
    fn a_body_cut_inside_a_frame_is_data_loss() {
        let whole = [frame(0, b"message"), frame(0x80, b"grpc-status:0\r\n")].concat();
        for cut in [1, 4, 5, 9, 13, whole.len() - 1] {
            let mut reader = StatusReader::new(Encoding::Binary);
            assert_eq!(reader.read(&whole[..cut]), None, "{cut}");
            assert_eq!(
                reader.at_end(),
                Some(Found::Status(semconv::GRPC_DATA_LOSS)),
                "{cut}"
            );
        }
        let messages = frame(0, b"message");
        let mut reader = StatusReader::new(Encoding::Binary);
        assert_eq!(reader.read(&messages), None);
        assert_eq!(reader.at_end(), None);
        let mut reader = StatusReader::new(Encoding::Binary);
        assert_eq!(reader.read(&whole), Some(Found::Status(0)));
        assert_eq!(reader.at_end(), None);
        // A text body cut inside a base64 quantum.
        let mut reader = StatusReader::new(Encoding::Text);
        let text = base64(&messages);
        assert_eq!(reader.read(&text[..text.len() - 1]), None);
        assert_eq!(
            reader.at_end(),
            Some(Found::Status(semconv::GRPC_DATA_LOSS))
        );
    }

    #[test]
    fn an_unreadable_trailer_frame_leaves_the_status_unknown() {
        let big = format!("x-meta:{}\r\ngrpc-status:3\r\n", "a".repeat(MAX_TRAILERS));
        let early = format!("grpc-status:3\r\nx-meta:{}\r\n", "a".repeat(MAX_TRAILERS));
        let unreadable = [
            // Its status past what is kept.
            frame(0x80, big.as_bytes()),
            // Compressed.
            frame(0x81, b"\x1f\x8b"),
        ];
        for body in unreadable {
            let reader = StatusReader::new(Encoding::Binary);
            assert_eq!(read_in_chunks(reader, &body, 100), Some(Found::Unreadable));
        }
        // A long block whose status comes first is read.
        let reader = StatusReader::new(Encoding::Binary);
        let body = frame(0x80, early.as_bytes());
        assert_eq!(read_in_chunks(reader, &body, 100), Some(Found::Status(3)));
        // A frame flag gRPC-Web does not define.
        for flag in [0x82, 0xff, 0x02] {
            let mut body = frame(flag, b"grpc-status:0\r\n");
            body.extend(frame(0x80, b"grpc-status:0\r\n"));
            let reader = StatusReader::new(Encoding::Binary);
            assert_eq!(
                read_in_chunks(reader, &body, 100),
                Some(Found::Unreadable),
                "{flag}"
            );
        }
        // Not base64.
        let reader = StatusReader::new(Encoding::Text);
        assert_eq!(
            read_in_chunks(reader, b"AAAA*AAA", 8),
            Some(Found::Unreadable)
        );
        // Given up on, then nothing more.
        let mut reader = StatusReader::new(Encoding::Binary);
        assert_eq!(reader.give_up(), Some(Found::Unreadable));
        assert_eq!(reader.read(&frame(0x80, b"grpc-status:0\r\n")), None);
        assert_eq!(reader.give_up(), None);
    }

    #[test]
    fn a_body_without_a_whole_trailer_frame_finds_nothing() {
        let mut body = frame(0, &[7; 100]);
        body.extend(&frame(0x80, b"grpc-status:0\r\n")[..8]);
        let reader = StatusReader::new(Encoding::Binary);
        assert_eq!(read_in_chunks(reader, &body, 9), None);
        // A message's length as big as a length goes: passed over in constant memory.
        let reader = StatusReader::new(Encoding::Binary);
        let mut huge = vec![0, 0xff, 0xff, 0xff, 0xff];
        huge.extend([0; 64]);
        assert_eq!(read_in_chunks(reader, &huge, 16), None);
    }
}
