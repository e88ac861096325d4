//! Where finished spans go.
pub(crate) mod local;
