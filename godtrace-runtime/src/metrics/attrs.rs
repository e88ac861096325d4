//! Attribute sets as series keys: an order-independent hash and a canonical (sorted) form.
use opentelemetry::KeyValue;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// A hash of the set `attributes`, the same whatever their order.
pub(crate) fn set_hash(attributes: &[KeyValue]) -> u64 {
    attributes.iter().fold(0u64, |acc, kv| {
        let mut h = DefaultHasher::new();
        kv.hash(&mut h);
        acc.wrapping_add(h.finish())
    })
}

/// Whether `a` and `b` hold the same pairs, in any order.
pub(crate) fn same_set(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len() && a.iter().all(|kv| b.iter().any(|other| other == kv))
}

/// The stored form: sorted by key, and of a key given twice only the last value.
pub(crate) fn canonical(attributes: &[KeyValue]) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = Vec::with_capacity(attributes.len());
    for kv in attributes.iter().rev() {
        if !out.iter().any(|o| o.key == kv.key) {
            out.push(kv.clone());
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_and_the_last_duplicate_wins() {
        let a = [KeyValue::new("x", 1), KeyValue::new("y", "b")];
        let b = [KeyValue::new("y", "b"), KeyValue::new("x", 1)];
        assert_eq!(set_hash(&a), set_hash(&b));
        assert!(same_set(&a, &b));
        assert_eq!(canonical(&b), a.to_vec());
        let dup = [KeyValue::new("x", 2), KeyValue::new("x", 1)];
        assert_eq!(canonical(&dup), vec![KeyValue::new("x", 1)]);
        assert!(!same_set(&a, &dup));
    }
}
