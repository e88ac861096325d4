//! Attribute sets as series keys: an order-independent hash and a canonical form (bounded,
//! sorted by key, one value per key).
//!
//! A metric's attribute set is bounded before it is stored: keys are cut at
//! [`MAX_ATTRIBUTE_KEY_LEN`] bytes, string values at [`MAX_VALUE_LEN`] bytes (with the
//! truncation marker), arrays at `MAX_VALUE_LEN / 8` elements and `MAX_VALUE_LEN` bytes of text,
//! and a set keeps at most [`MAX_ATTRIBUTES`] attributes (the first by key). Of a key given
//! twice the last value wins, as in OpenTelemetry; of keys that are one once cut, the value of
//! the greatest (so that the set is one series whatever its order). An attribute with an empty key is left
//! out, as spans leave it out (OpenTelemetry requires a non-empty key).
use crate::value::{self, MAX_ATTRIBUTE_KEY_LEN};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// The longest string value of a metric attribute, in bytes (before the truncation marker).
pub(crate) const MAX_VALUE_LEN: usize = 256;
/// Attributes a metric's attribute set keeps, at most.
pub(crate) const MAX_ATTRIBUTES: usize = 32;
/// The most heap bytes one bounded value holds: a string array's `MAX_VALUE_LEN / 8`
/// elements and `MAX_VALUE_LEN` bytes of text in all, the marker of a cut included. (A string
/// holds at most `MAX_VALUE_LEN`.)
pub(crate) const MAX_VALUE_BYTES: usize =
    (MAX_VALUE_LEN / 8) * size_of::<StringValue>() + MAX_VALUE_LEN;
/// The most heap bytes one bounded attribute set holds, as
/// [`attributes_footprint`](super::series::attributes_footprint) counts them.
pub(crate) const MAX_SET_BYTES: usize =
    MAX_ATTRIBUTES * (size_of::<KeyValue>() + MAX_ATTRIBUTE_KEY_LEN + MAX_VALUE_BYTES);
// The README's figure for one set (43,200 bytes with opentelemetry 0.33's types).
const _: () = assert!(
    MAX_SET_BYTES <= 42 * 1024 + 256,
    "update the README's metrics memory"
);
/// Sets up to this size that need no cutting are looked up as given, with no copy; the
/// pairwise comparison this takes stays below 16² steps.
const LOOKED_UP_AS_GIVEN: usize = 16;

/// A hash of the set `attributes`, the same whatever their order.
pub(crate) fn set_hash(attributes: &[KeyValue]) -> u64 {
    attributes.iter().fold(0u64, |acc, kv| {
        let mut h = DefaultHasher::new();
        kv.hash(&mut h);
        acc.wrapping_add(h.finish())
    })
}

/// Whether `attributes` is already its own canonical form but for the order: few, nothing to
/// cut, and (checked by the caller's comparison) no key twice.
pub(crate) fn usable_as_given(attributes: &[KeyValue]) -> bool {
    attributes.len() <= LOOKED_UP_AS_GIVEN
        && attributes.iter().all(|kv| {
            (1..=MAX_ATTRIBUTE_KEY_LEN).contains(&kv.key.as_str().len())
                && value::is_within(&kv.value, MAX_VALUE_LEN)
        })
}

/// Whether the canonical set `stored` holds the pairs of `given`, a small set (see
/// [`usable_as_given`]) in any order. `stored` has distinct keys, so equal lengths and every
/// stored pair found in `given` mean `given` is a permutation of it.
pub(crate) fn same_set(stored: &[KeyValue], given: &[KeyValue]) -> bool {
    stored.len() == given.len()
        && stored
            .iter()
            .all(|kv| given.iter().any(|g| same_pair(g, kv)))
}

/// Whether two canonical sets are the same series: [`same_pair`] for each pair in order.
pub(crate) fn same_pairs(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_pair(a, b))
}

/// Whether two attributes name the same series: as `==`, but floats compared by their bits,
/// as [`set_hash`] hashes them. With `==`, a NaN value never equals itself, so each call with
/// one would make a series of its own until the cardinality limit.
pub(crate) fn same_pair(a: &KeyValue, b: &KeyValue) -> bool {
    a.key == b.key
        && match (&a.value, &b.value) {
            (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
            (Value::Array(Array::F64(x)), Value::Array(Array::F64(y))) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (x, y) => x == y,
        }
}

/// The canonical form of `attributes`, and how many attributes past [`MAX_ATTRIBUTES`] it
/// left out. Sorting dominates: O(n log n) in the number of attributes, duplicates included,
/// and only the kept attributes are copied (their bounded part).
pub(crate) fn canonical(attributes: &[KeyValue]) -> (Vec<KeyValue>, usize) {
    let key_of = |at: usize| value::key_prefix(attributes[at].key.as_str());
    let mut order: Vec<usize> = (0..attributes.len()).collect();
    // Stable: the attributes of one key stay in the order given, the last one last; keys that
    // are one once cut, by their whole key.
    order.sort_by(|&a, &b| {
        key_of(a)
            .cmp(key_of(b))
            .then_with(|| attributes[a].key.as_str().cmp(attributes[b].key.as_str()))
    });
    let mut out = Vec::with_capacity(order.len().min(MAX_ATTRIBUTES));
    let mut left_out = 0;
    for (i, &at) in order.iter().enumerate() {
        let superseded = order
            .get(i + 1)
            .is_some_and(|&next| key_of(next) == key_of(at));
        if superseded || attributes[at].key.as_str().is_empty() {
            continue;
        }
        if out.len() == MAX_ATTRIBUTES {
            left_out += 1;
            continue;
        }
        out.push(bounded(&attributes[at]));
    }
    (out, left_out)
}

fn bounded(kv: &KeyValue) -> KeyValue {
    let key = kv.key.as_str();
    let key = if key.len() <= MAX_ATTRIBUTE_KEY_LEN {
        kv.key.clone()
    } else {
        Key::from(value::key_prefix(key).to_owned())
    };
    KeyValue::new(key, value::bounded_value_of(&kv.value, MAX_VALUE_LEN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Value;

    #[test]
    fn order_does_not_matter_and_the_last_duplicate_wins() {
        let a = [KeyValue::new("x", 1), KeyValue::new("y", "b")];
        let b = [KeyValue::new("y", "b"), KeyValue::new("x", 1)];
        assert_eq!(set_hash(&a), set_hash(&b));
        assert!(same_set(&a, &b));
        assert_eq!(canonical(&b), (a.to_vec(), 0));
        let dup = [
            KeyValue::new("x", 2),
            KeyValue::new("y", "b"),
            KeyValue::new("x", 1),
        ];
        assert_eq!(canonical(&dup), (a.to_vec(), 0));
        assert!(!same_set(&a, &dup[..2]));
        assert!(!same_set(
            &a,
            &[KeyValue::new("x", 1), KeyValue::new("x", 1)]
        ));
    }

    #[test]
    fn a_float_attribute_is_the_same_series_as_its_bits_whatever_its_value() {
        for v in [f64::NAN, -f64::NAN, 0.5, -0.0] {
            let a = [KeyValue::new("ratio", v), KeyValue::new("x", 1)];
            let b = [KeyValue::new("x", 1), KeyValue::new("ratio", v)];
            assert!(same_set(&a, &b), "{v}");
            assert!(same_pairs(&canonical(&b).0, &canonical(&a).0), "{v}");
            let arrays = [KeyValue::new("r", Value::Array(vec![1.0, v].into()))];
            assert!(same_pairs(&arrays, &arrays.clone()), "{v}");
        }
        // Bits, as the hash: 0.0 and -0.0 are two series (rendered "0" and "-0").
        assert!(!same_pairs(
            &[KeyValue::new("r", 0.0)],
            &[KeyValue::new("r", -0.0)]
        ));
    }

    #[test]
    fn keys_values_and_the_set_are_bounded() {
        let long_key = "k".repeat(10_000);
        let long_value = "é".repeat(10_000);
        let mut given: Vec<KeyValue> = (0..100)
            .map(|i| KeyValue::new(format!("{i:03}{long_key}"), long_value.clone()))
            .collect();
        given.push(KeyValue::new("z", Value::Array(vec![1i64; 10_000].into())));
        assert!(!usable_as_given(&given));
        let (kept, left_out) = canonical(&given);
        assert_eq!(
            (kept.len(), left_out),
            (MAX_ATTRIBUTES, 101 - MAX_ATTRIBUTES)
        );
        // The first by key.
        assert!(kept[0].key.as_str().starts_with("000k"));
        for kv in &kept {
            assert_eq!(kv.key.as_str().len(), MAX_ATTRIBUTE_KEY_LEN);
            let text = kv.value.as_str();
            assert!(text.ends_with(value::TRUNCATION_MARKER));
            assert_eq!(text.len(), MAX_VALUE_LEN);
        }
        let (kept, _) = canonical(&given[100..]);
        assert_eq!(
            kept[0].value,
            Value::Array(vec![1i64; MAX_VALUE_LEN / 8].into())
        );
    }

    #[test]
    fn an_attribute_with_an_empty_key_is_left_out() {
        let given = [KeyValue::new("", 1), KeyValue::new("x", 2)];
        assert!(!usable_as_given(&given));
        assert_eq!(canonical(&given), (vec![KeyValue::new("x", 2)], 0));
    }

    #[test]
    fn keys_equal_once_cut_are_one_key() {
        let base = "k".repeat(MAX_ATTRIBUTE_KEY_LEN);
        let given = [
            KeyValue::new(format!("{base}a"), 1),
            KeyValue::new(format!("{base}b"), 2),
        ];
        assert_eq!(canonical(&given), (vec![KeyValue::new(base.clone(), 2)], 0));
        // One series whatever the order: the greatest key's value.
        let reversed = [given[1].clone(), given[0].clone()];
        assert_eq!(canonical(&reversed), (vec![KeyValue::new(base, 2)], 0));
    }
}
