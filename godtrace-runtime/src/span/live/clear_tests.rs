use super::*;
use opentelemetry::{KeyValue, StringValue};
use std::sync::Arc;

#[test]
fn clearing_drops_what_the_fields_own_and_leaves_the_defaults() {
    let text: Arc<str> = Arc::from("a value held elsewhere too");
    let description: Arc<str> = Arc::from("x");
    let mut fields = Fields {
        attributes: vec![KeyValue::new("k", StringValue::from(text.clone()))],
        dropped_attributes: 3,
        status: Status::error(description.to_string()),
        dropped_events: 1,
        ..Fields::default()
    };
    fields.clear();
    assert_eq!(
        Arc::strong_count(&text),
        1,
        "the attribute's value was dropped"
    );
    assert!(fields.attributes.is_empty());
    assert_eq!((fields.dropped_attributes, fields.dropped_events), (0, 0));
    assert_eq!(fields.status, Status::Unset);
    assert!(!fields.hold_anything(), "what is kept is not held");
    // Owning nothing: cleared all the same.
    fields.dropped_links = 2;
    fields.status = Status::Ok;
    fields.clear();
    assert_eq!((fields.dropped_links, &fields.status), (0, &Status::Unset));
}

#[test]
fn clearing_keeps_a_small_attribute_lists_capacity_and_drops_a_large_one() {
    let mut fields = Fields::default();
    fields.attributes.reserve_exact(KEPT_ATTRIBUTE_CAPACITY);
    let kept = fields.attributes.as_ptr();
    fields.attributes.push(KeyValue::new("k", 1));
    assert!(fields.hold_anything(), "an attribute is held");
    fields.clear();
    assert!(fields.attributes.is_empty());
    assert_eq!(fields.attributes.as_ptr(), kept, "the same list, kept");
    assert!(!fields.hold_anything(), "its capacity alone is not held");

    fields.attributes.reserve_exact(KEPT_ATTRIBUTE_CAPACITY + 1);
    assert!(fields.hold_anything(), "a capacity over the bound is held");
    fields.clear();
    assert_eq!(fields.attributes.capacity(), 0, "a large list is dropped");
    assert!(!fields.hold_anything());
}
