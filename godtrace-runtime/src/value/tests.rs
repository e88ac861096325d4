use super::*;

#[test]
fn long_strings_are_cut_on_a_char_boundary_with_a_marker() {
    let s = "é".repeat(1000); // 2000 bytes
    let Value::String(v) = bounded_str(&s) else {
        panic!("not a string")
    };
    let v = v.as_str();
    assert!(v.ends_with(TRUNCATION_MARKER));
    let body = v.strip_suffix(TRUNCATION_MARKER).unwrap();
    // The specification bounds the whole value: the marker is counted within the limit.
    assert_eq!(v.len(), 1024);
    assert_eq!(body.len(), 1024 - TRUNCATION_MARKER.len());
    assert!(body.chars().all(|c| c == 'é'));
}

/// A limit shorter than the marker keeps that many bytes, unmarked; 0 keeps nothing. Every
/// cut value, whichever way it is made, is at most the limit.
#[test]
fn a_cut_value_is_never_longer_than_the_limit() {
    let text = "é".repeat(40);
    for limit in 0..40 {
        let cut = bounded_text(&text, limit);
        assert!(cut.len() <= limit, "{limit}: {cut:?}");
        let formatted = bounded_fmt_to(format_args!("{text}"), limit, DISPLAY_PANICKED);
        assert_eq!(formatted, cut, "{limit}");
        let panicked = bounded_fmt_to(
            format_args!("{:?}", PanicsWhenFormatted),
            limit,
            DEBUG_PANICKED,
        );
        assert!(panicked.len() <= limit, "{limit}: {panicked:?}");
    }
    assert_eq!(bounded_text(&text, 0), "");
    assert_eq!(bounded_text(&text, 5), "éé");
}

#[test]
fn short_strings_are_kept_whole() {
    assert_eq!(bounded_str("abc"), Value::from("abc"));
}

#[test]
fn huge_debug_output_stops_at_the_limit() {
    let v = vec![7u8; 100_000];
    let s = debug_text(&v);
    assert_eq!(s.len(), max_attribute_len());
    assert!(s.starts_with("[7, 7, 7"));
}

/// Writes `chunk` in one `write_str`, as `String`'s `Display` and `Debug` of a large
/// struct field do, then records whether it was asked to write on.
struct OneChunk<'a> {
    chunk: &'a str,
    after: std::cell::Cell<bool>,
}
impl fmt::Display for OneChunk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chunk)?;
        self.after.set(true);
        f.write_str("after")
    }
}

/// Formats with `write!(..).expect(..)`, as if its writer never failed (a `String` does not).
struct ExpectsWrites(usize);
impl fmt::Debug for ExpectsWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.0 {
            write!(f, "{i:05} ").expect("formatting never fails");
        }
        Ok(())
    }
}

/// Past the limit, what is written is dropped, not refused: an implementation that expects
/// its writes to succeed does not panic (which `panic = "abort"` would make fatal) for text
/// a few times the limit; only far past it are writes refused, which bounds the work.
#[test]
fn text_past_the_limit_is_dropped_without_failing_the_writes() {
    let limit = max_attribute_len();
    let text = debug_text(&ExpectsWrites(limit)); // six times the limit
    assert_eq!(text.len(), limit);
    assert!(text.starts_with("00000 00001 "), "{text}");
    assert!(text.ends_with(TRUNCATION_MARKER), "{text}");
    // Far past it: refused, caught as the panic it makes.
    let text = debug_text(&ExpectsWrites(DISCARDED_AT_MOST * limit));
    assert_eq!(text, DEBUG_PANICKED);
    // A small limit (even 0) still lets a short text's writes all succeed.
    let text = bounded_fmt_to(format_args!("{:?}", ExpectsWrites(100)), 8, DEBUG_PANICKED);
    assert_eq!(text, "00000 00");
    let text = bounded_fmt_to(format_args!("{:?}", ExpectsWrites(100)), 0, DEBUG_PANICKED);
    assert_eq!(text, "");
}

/// A value nested `0` levels deep, whose `Debug` recurses once per level (as a derived `Debug`
/// of a tree does) and needs no memory of its own.
struct Nested(u32);

impl fmt::Debug for Nested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str("leaf"),
            depth => f.debug_tuple("N").field(&Nested(depth - 1)).finish(),
        }
    }
}

/// A value nested deeper than the thread's stack could format is cut where formatting has
/// used a bounded amount of stack, instead of overflowing it (which aborts the process, where
/// the untraced function never formats the value). The old writer went on until sixteen
/// times the limit was written: thousands of levels here.
#[test]
fn a_deeply_nested_value_is_cut_before_it_overflows_the_stack() {
    let text = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| debug_text(&Nested(1_000_000)))
        .expect("spawn")
        .join()
        .expect("formatting a deep value returns");
    assert!(text.starts_with("N(N(N("), "{text}");
    assert!(text.ends_with(TRUNCATION_MARKER), "{text}");
    assert!(text.len() <= max_attribute_len(), "{}", text.len());
    // A shallow one is whole; one a few hundred levels deep is cut by the length limit only.
    assert_eq!(debug_text(&Nested(2)), "N(N(leaf))");
    let text = debug_text(&Nested(300));
    assert_eq!(text.len(), 300 * 2 + 4 + 300, "{text}");
}

#[test]
fn a_huge_chunk_is_copied_only_up_to_the_limit() {
    let big = "x".repeat(8 << 20);
    let value = OneChunk {
        chunk: &big,
        after: std::cell::Cell::new(false),
    };
    let (text, largest) = counting_alloc::largest_during(|| display_text(&value));
    assert_eq!(text.len(), max_attribute_len());
    assert!(text.ends_with(TRUNCATION_MARKER));
    // The old writer appended the whole chunk before checking the limit: 8 MiB here.
    assert!(
        largest <= 4 * max_attribute_len(),
        "{largest} bytes allocated at once"
    );
    assert!(!value.after.get(), "the walk went on past the limit");
    let (text, largest) = counting_alloc::largest_during(|| debug_text(&big));
    assert_eq!(text.len(), max_attribute_len());
    assert!(
        largest <= 4 * max_attribute_len(),
        "{largest} bytes allocated at once"
    );
}

#[test]
fn formatted_text_is_cut_on_a_char_boundary_and_marked_only_when_cut() {
    let limit = max_attribute_len();
    let room = limit - TRUNCATION_MARKER.len();
    let text = display_text(&"é".repeat(limit));
    let body = text.strip_suffix(TRUNCATION_MARKER).expect("marked");
    assert_eq!(body.len(), room);
    // One byte short of a whole 'é' where the marker starts: the cut falls before it.
    let text = display_text(&format!("a{}", "é".repeat(limit)));
    let body = text.strip_suffix(TRUNCATION_MARKER).expect("marked");
    assert_eq!(body.len(), room - 1);
    assert_eq!(display_text(&"a".repeat(limit)), "a".repeat(limit));
}

struct PanicsWhenFormatted;
impl fmt::Debug for PanicsWhenFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("partial")?;
        panic!("Debug of PanicsWhenFormatted (expected by this test)")
    }
}
impl fmt::Display for PanicsWhenFormatted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("partial")?;
        panic!("Display of PanicsWhenFormatted (expected by this test)")
    }
}

#[test]
fn a_panicking_debug_or_display_is_recorded_as_a_marker() {
    assert_eq!(debug_text(&PanicsWhenFormatted), DEBUG_PANICKED);
    assert_eq!(display_text(&PanicsWhenFormatted), DISPLAY_PANICKED);
    let probe = &&&Probe(&PanicsWhenFormatted);
    assert_eq!(probe.__godtrace_value(), Value::from(DEBUG_PANICKED));
}

#[test]
fn lists_read_as_their_debug_text_cut_at_the_limit() {
    let v = vec![Some(1), None];
    assert_eq!(v.typed_value(), Value::from(format!("{v:?}")));
    assert_eq!([0u8; 0].typed_value(), Value::from("[]"));
    let nested = [vec!["a\"b"], vec![]];
    assert_eq!(nested.typed_value(), Value::from(format!("{nested:?}")));
    let big = vec![7u8; 100_000];
    let Value::String(text) = (&&&Probe(&big)).__godtrace_value() else {
        panic!("not a string")
    };
    assert!(text.as_str().starts_with("[7, 7, "));
    assert_eq!(text.as_str().len(), max_attribute_len());
}

#[test]
fn keys_are_cut_on_a_char_boundary_and_borrowed_keys_stay_borrowed() {
    let long: &'static str = Box::leak("k".repeat(1000).into_boxed_str());
    let cut = bounded_key(Cow::Borrowed(long));
    assert!(matches!(cut, Cow::Borrowed(_)));
    assert_eq!(cut.len(), MAX_ATTRIBUTE_KEY_LEN);
    let cut = bounded_key(Cow::Owned(format!("k{}", "é".repeat(1000))));
    assert_eq!(cut.len(), MAX_ATTRIBUTE_KEY_LEN - 1);
    assert_eq!(bounded_key(Cow::Borrowed("short")), "short");
}

#[test]
fn arrays_keep_limit_over_8_elements_and_limit_bytes_of_text() {
    let ints = Value::Array(Array::I64(vec![1; 10_000]));
    let Value::Array(Array::I64(kept)) = bounded_value(ints, 256) else {
        panic!("not an int array")
    };
    assert_eq!(kept.len(), 32);
    let strings: Vec<StringValue> = (0..10_000).map(|_| "abcdefghij".into()).collect();
    let Value::Array(Array::String(kept)) = bounded_value(Value::Array(strings.into()), 256) else {
        panic!("not a string array")
    };
    let text: usize = kept.iter().map(|s| s.as_str().len()).sum();
    assert!(kept.len() <= 32 && text <= 256, "{kept:?}");
}

/// Strings that fill the limit exactly leave no room for the next: it is left out, not kept
/// as an empty string the program never recorded. A first string too long is kept, cut, unless
/// nothing of it fits.
#[test]
fn a_string_array_gains_no_empty_element_where_its_room_ends() {
    let strings: Vec<StringValue> = (0..50).map(|i| format!("élément{i}").into()).collect();
    let Value::Array(Array::String(kept)) = bounded_value(Value::Array(strings.into()), 40) else {
        panic!("not a string array")
    };
    let kept: Vec<&str> = kept.iter().map(StringValue::as_str).collect();
    assert_eq!(kept, ["élément0", "élément1", "élément2", "élément3"]);
    let long: Vec<StringValue> = vec!["x".repeat(100).into(), "y".into()];
    let Value::Array(Array::String(kept)) = bounded_value(Value::Array(long.into()), 40) else {
        panic!("not a string array")
    };
    assert_eq!(kept.len(), 1);
    assert!(kept[0].as_str().starts_with("xxx") && kept[0].as_str().len() <= 40);
    // No room for the first element's first character: nothing, not an empty string.
    for limit in [0, 1, 3] {
        let emoji: Vec<StringValue> = vec!["😀😀😀".into()];
        let Value::Array(Array::String(kept)) = bounded_value(Value::Array(emoji.into()), limit)
        else {
            panic!("not a string array")
        };
        assert!(kept.is_empty(), "{limit}: {kept:?}");
    }
}

#[test]
fn an_event_keeps_its_first_attributes_and_counts_the_others() {
    let attributes: Vec<KeyValue> = (0..1000)
        .map(|i| KeyValue::new(format!("k{i}"), i))
        .collect();
    let (kept, dropped) = EventAttributes::gather(attributes, 7).into_parts();
    assert_eq!(kept.len(), crate::config::limits::DEFAULT_COUNT_LIMIT);
    assert_eq!(kept[0], KeyValue::new("k0", 0));
    assert_eq!(
        dropped,
        1000 - crate::config::limits::DEFAULT_COUNT_LIMIT as u32 + 7
    );
}

#[test]
fn wide_integers_that_do_not_fit_keep_their_digits() {
    assert_eq!(u64::MAX.typed_value(), Value::from(u64::MAX.to_string()));
    assert_eq!(42u64.typed_value(), Value::I64(42));
}

#[test]
fn push_attribute_appends_in_order_and_grows_a_full_list() {
    let mut attributes = vec![KeyValue::new("first", 1)];
    attributes.shrink_to_fit();
    push_attribute(&mut attributes, "n", || Value::I64(7));
    push_attribute(&mut attributes, "wallet", || bounded_str("7xKX"));
    let expected = [
        KeyValue::new("first", 1),
        KeyValue::new("n", 7),
        KeyValue::new("wallet", "7xKX"),
    ];
    assert_eq!(attributes, expected);
}

/// `one_per_key` keeps each key once, where it was first given, with the value given last, and
/// leaves out empty keys (counted): checked against a plain model on many lists, short and
/// long, with and without repeated or empty keys, so that its shortcut for lists whose keys
/// are plainly distinct never changes what it returns.
#[test]
#[cfg(feature = "tracing")]
fn one_per_key_keeps_the_first_place_and_the_last_value_of_each_key() {
    let names = [
        "",
        "a",
        "b",
        "ab",
        "ba",
        "code.line.number",
        "code.file.path",
        "n",
        "wallet",
        "exception.message",
        "aa",
        "code.function.name",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    for round in 0..5_000 {
        let len = next(12);
        let mut attributes: Vec<KeyValue> = (0..len)
            .map(|i| KeyValue::new(names[next(names.len())], i as i64))
            .collect();
        // Some lists of distinct keys only, where the shortcut applies.
        if round % 2 == 0 {
            let mut seen = std::collections::HashSet::new();
            attributes.retain(|a| !a.key.as_str().is_empty() && seen.insert(a.key.clone()));
        }
        let mut model: Vec<KeyValue> = Vec::new();
        let mut keyless = 0;
        for a in &attributes {
            if a.key.as_str().is_empty() {
                keyless += 1;
            } else if let Some(kept) = model.iter_mut().find(|k| k.key == a.key) {
                kept.value = a.value.clone();
            } else {
                model.push(a.clone());
            }
        }
        let given = attributes.clone();
        assert_eq!(one_per_key(&mut attributes), keyless, "{given:?}");
        assert_eq!(attributes, model, "{given:?}");
    }
}

/// Paths, OS strings, C strings, shared strings and `Cow`s of them are recorded as strings (not their quoted
/// `Debug` text), from a prefix of at most about the limit: a 100 MB one is cut and marked.
#[test]
fn paths_os_and_c_strings_and_shared_strings_are_bounded_strings() {
    use std::ffi::{CString, OsString};
    use std::path::PathBuf;
    use std::sync::Arc;
    let short = |v: Value| assert_eq!(v, Value::from("/tmp/é x"));
    short(Typed::typed_value(std::path::Path::new("/tmp/é x")));
    short(PathBuf::from("/tmp/é x").typed_value());
    short(OsString::from("/tmp/é x").typed_value());
    short(CString::new("/tmp/é x").unwrap().typed_value());
    short(Arc::<str>::from("/tmp/é x").typed_value());
    short(std::rc::Rc::<str>::from("/tmp/é x").typed_value());
    let path = std::path::Path::new("/tmp/é x");
    short(Cow::Borrowed(path).typed_value());
    short(Cow::<std::path::Path>::Owned(path.to_path_buf()).typed_value());
    short(Cow::Borrowed(std::ffi::OsStr::new("/tmp/é x")).typed_value());

    let huge = "é".repeat(50_000_000); // 100 MB
    let limit = max_attribute_len();
    let cut = |v: Value| {
        let Value::String(s) = v else { panic!("{v:?}") };
        assert!(s.as_str().len() <= limit, "{}", s.as_str().len());
        assert!(s.as_str().starts_with("éé"));
        assert!(
            !s.as_str().contains('\u{FFFD}'),
            "a split char is in what is cut"
        );
        assert_eq!(Value::String(s.clone()), bounded_str(&huge));
    };
    cut(PathBuf::from(&huge).typed_value());
    cut(OsString::from(&huge).typed_value());
    cut(CString::new(huge.clone()).unwrap().typed_value());
    cut(Arc::<str>::from(huge.as_str()).typed_value());
    cut(Cow::Borrowed(std::path::Path::new(&huge)).typed_value());
}

/// An `f32` is recorded as the number it prints as, and a non-zero integer as an integer.
#[test]
fn f32_reads_as_it_prints_and_non_zero_integers_are_integers() {
    assert_eq!(0.1f32.typed_value(), Value::F64(0.1));
    assert_eq!((-3.25e-7f32).typed_value(), Value::F64(-3.25e-7));
    assert_eq!(f32::MAX.typed_value(), Value::F64(3.4028235e38));
    assert_eq!(f32::INFINITY.typed_value(), Value::F64(f64::INFINITY));
    assert!(matches!(f32::NAN.typed_value(), Value::F64(v) if v.is_nan()));
    assert_eq!(
        std::num::NonZeroU32::new(7).unwrap().typed_value(),
        Value::I64(7)
    );
    assert_eq!(
        std::num::NonZeroI8::new(-7).unwrap().typed_value(),
        Value::I64(-7)
    );
    let wide = std::num::NonZeroU64::new(u64::MAX).unwrap();
    assert_eq!(wide.typed_value(), Value::from(u64::MAX.to_string()));
}

/// A key given again past the count limit takes its new value, as on a span, and is not
/// counted dropped: only new keys past the limit are.
#[test]
fn an_event_key_given_again_past_the_limit_takes_its_last_value() {
    let limit = crate::config::limits::DEFAULT_COUNT_LIMIT;
    let mut attributes: Vec<KeyValue> = (0..limit)
        .map(|i| KeyValue::new(format!("k{i}"), 0))
        .collect();
    attributes.push(KeyValue::new("k0", 999));
    attributes.push(KeyValue::new("new", 1));
    attributes.push(KeyValue::new("", 1));
    let (kept, dropped) = EventAttributes::gather(attributes, 0).into_parts();
    assert_eq!(kept.len(), limit);
    assert_eq!(kept[0], KeyValue::new("k0", 999));
    assert_eq!(dropped, 2, "the new key and the empty one");
}
