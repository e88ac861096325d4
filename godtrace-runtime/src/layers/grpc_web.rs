//! The status of a gRPC-Web answer (`application/grpc-web`, `+proto`, `-text`...): gRPC-Web
//! has no HTTP trailers, so the status comes in the body's last frame, a trailer frame (flag
//! bit 0x80) whose payload is an HTTP/1 header block (`grpc-status:0\r\ngrpc-message:\r\n`).
//! The reader follows the frames' 5-byte headers across the body's chunks with fixed state,
//! passes over the messages and reads the trailer frame's lines as they come, keeping none
//! (tonic writes a status's metadata before its `grpc-status`: the status may come last
//! after any amount of it).
// Each layer's feature uses its part of this: with all of them on, nothing is unused.
#![cfg_attr(
    not(all(feature = "tower", feature = "reqwest", feature = "tonic")),
    allow(dead_code)
)]
use super::semconv;

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
    [
        (Encoding::Text, &b"application/grpc-web-text"[..]),
        (Encoding::Binary, b"application/grpc-web"),
    ]
    .into_iter()
    .find_map(|(encoding, name)| is_of_type(content_type, name).then_some(encoding))
}

/// Whether `content_type` names the media type `name` (in any case), with a format
/// (`+proto`), parameters, or nothing after it.
pub(crate) fn is_of_type(content_type: &[u8], name: &[u8]) -> bool {
    content_type
        .get(..name.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(name))
        && matches!(
            content_type.get(name.len()),
            None | Some(b'+' | b';' | b' ' | b'\t')
        )
}

/// What the trailer frame said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Its `grpc-status`: a code, UNKNOWN for a value gRPC does not define.
    Status(i64),
    /// It holds no `grpc-status`: gRPC clients read UNKNOWN, as for a gRPC answer without one.
    NoStatus,
    /// It could not be read (compressed, badly encoded): the status is not known.
    Unreadable,
}

/// Where the reader is in the body's frames.
enum Frames {
    /// In a frame's 5-byte header: those read so far.
    Header { bytes: [u8; 5], read: usize },
    /// In a message's payload: the bytes left of it.
    Message { left: u32 },
    /// In the trailer frame's payload: the bytes left of it, and its lines read so far.
    Trailers { left: u32, block: TrailerBlock },
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

    /// The body ended: inside a frame's payload (or a text body's base64 quantum), it was
    /// cut short, which gRPC-Web clients read as DATA_LOSS; inside a frame's 5-byte header,
    /// before any payload, they find no status (tonic's reads UNKNOWN); between frames, its
    /// status is whatever was found (none: UNKNOWN, as for any gRPC answer without one).
    pub(crate) fn at_end(&mut self) -> Option<Found> {
        let mid_quantum = self.text.is_some_and(|(_, filled)| filled > 0);
        match std::mem::replace(&mut self.frames, Frames::Over) {
            Frames::Over => None,
            _ if mid_quantum => Some(Found::Status(semconv::GRPC_DATA_LOSS)),
            Frames::Header { read: 0, .. } => None,
            Frames::Header { .. } => Some(Found::NoStatus),
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
                Frames::Trailers { left, block } => {
                    let n = chunk.len().min(*left as usize);
                    block.read(&chunk[..n]);
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
                    *self = Frames::Trailers {
                        left,
                        block: TrailerBlock::default(),
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
            Frames::Trailers { left: 0, block } => {
                let found = block.found();
                *self = Frames::Over;
                Some(found)
            }
            _ => None,
        }
    }
}

/// The `grpc-status` of a trailer block, read byte by byte as it comes, in fixed memory:
/// `name:value` lines, each ended by CRLF, read as gRPC-Web clients read them (tonic's): only
/// lines ended by CRLF count, the last `grpc-status` wins, a value is taken without its
/// leading blanks only (`0 ` is no code: UNKNOWN), and a line that is no header (no `:`, or a
/// name that is no HTTP token) makes the block unreadable (clients fail the call).
#[derive(Debug, Default)]
struct TrailerBlock {
    /// Past the current line's `:`.
    in_value: bool,
    /// The bytes of the current line's name so far.
    name_len: usize,
    /// The name so far is (a prefix of) `grpc-status`, in any case.
    names_status: bool,
    /// The last byte was a CR: a LF next ends the line.
    after_cr: bool,
    /// The status line's value after its leading blanks: its first bytes (a code has at most
    /// two), how many, and whether more came.
    value: [u8; 2],
    value_len: usize,
    value_too_long: bool,
    /// The last complete `grpc-status` line's code.
    status: Option<i64>,
    unreadable: bool,
}

impl TrailerBlock {
    const STATUS: &'static [u8] = b"grpc-status";

    fn read(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.unreadable {
                return;
            }
            if std::mem::take(&mut self.after_cr) {
                if b == b'\n' {
                    self.end_line();
                    continue;
                }
                self.line_byte(b'\r');
            }
            if b == b'\r' {
                self.after_cr = true;
            } else {
                self.line_byte(b);
            }
        }
    }

    /// A byte of the current line (not its CRLF).
    fn line_byte(&mut self, b: u8) {
        if self.in_value {
            let blank = matches!(b, b' ' | b'\t');
            if self.names_status && (self.value_len > 0 || !blank) {
                match self.value.get_mut(self.value_len) {
                    Some(slot) => {
                        *slot = b;
                        self.value_len += 1;
                    }
                    None => self.value_too_long = true,
                }
            }
        } else if b == b':' {
            self.unreadable |= self.name_len == 0;
            self.names_status &= self.name_len == Self::STATUS.len();
            self.in_value = true;
        } else if is_token_byte(b) {
            let expected = Self::STATUS.get(self.name_len);
            self.names_status = (self.name_len == 0 || self.names_status)
                && expected.is_some_and(|e| e.eq_ignore_ascii_case(&b));
            self.name_len = self.name_len.saturating_add(1);
        } else {
            self.unreadable = true;
        }
    }

    /// A CRLF: a line with no `:` is no header; a `grpc-status` one gives its code.
    fn end_line(&mut self) {
        if !self.in_value {
            self.unreadable = true;
            return;
        }
        if self.names_status {
            let value = &self.value[..self.value_len];
            let code = (!self.value_too_long).then(|| semconv::grpc_status(value));
            self.status = Some(code.flatten().unwrap_or(semconv::GRPC_UNKNOWN));
        }
        let status = self.status;
        *self = TrailerBlock {
            status,
            ..TrailerBlock::default()
        };
    }

    /// What the block said once it is over (a last line without its CRLF does not count).
    fn found(&self) -> Found {
        match (self.unreadable, self.status) {
            (true, _) => Found::Unreadable,
            (false, Some(code)) => Found::Status(code),
            (false, None) => Found::NoStatus,
        }
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

    /// A body that ends inside a frame's payload was cut short: DATA_LOSS, as gRPC-Web
    /// clients read it (even when the part received holds a status); inside a frame's header,
    /// no status was sent (tonic's client reads UNKNOWN); between frames, nothing is found.
    #[test]
    fn a_body_cut_inside_a_frame_is_data_loss() {
        let whole = [frame(0, b"message"), frame(0x80, b"grpc-status:0\r\n")].concat();
        for cut in [5, 9, 18, whole.len() - 1] {
            let mut reader = StatusReader::new(Encoding::Binary);
            assert_eq!(reader.read(&whole[..cut]), None, "{cut}");
            assert_eq!(
                reader.at_end(),
                Some(Found::Status(semconv::GRPC_DATA_LOSS)),
                "{cut}"
            );
        }
        for cut in [1, 4, 13, 16] {
            let mut reader = StatusReader::new(Encoding::Binary);
            assert_eq!(reader.read(&whole[..cut]), None, "{cut}");
            assert_eq!(reader.at_end(), Some(Found::NoStatus), "{cut}");
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
        // Compressed.
        let reader = StatusReader::new(Encoding::Binary);
        let body = frame(0x81, b"\x1f\x8b");
        assert_eq!(read_in_chunks(reader, &body, 100), Some(Found::Unreadable));
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

    /// tonic writes a status's metadata first and its `grpc-status` last: a status after
    /// megabytes of metadata is read, and so is one before them.
    #[test]
    fn a_status_is_read_after_any_amount_of_metadata() {
        let metadata = format!("x-meta:{}\r\n", "a".repeat(1 << 20));
        for block in [
            format!("{metadata}grpc-status:13\r\ngrpc-message:x\r\n"),
            format!("grpc-status:13\r\n{metadata}"),
        ] {
            let reader = StatusReader::new(Encoding::Binary);
            let body = frame(0x80, block.as_bytes());
            assert_eq!(read_in_chunks(reader, &body, 4096), Some(Found::Status(13)));
        }
        let long_name = format!("{}:v\r\ngrpc-status:1\r\n", "grpc-status".repeat(3));
        let reader = StatusReader::new(Encoding::Binary);
        let body = frame(0x80, long_name.as_bytes());
        assert_eq!(read_in_chunks(reader, &body, 7), Some(Found::Status(1)));
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
