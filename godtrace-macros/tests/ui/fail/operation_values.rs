use godtrace::traced;

#[traced(operation)]
fn missing_value() {}

#[traced(operation = 5)]
fn not_a_string() {}

#[traced(operation = "   ")]
fn blank() {}

#[traced(operation = "")]
fn empty() {}

#[traced(operation = NAME)]
fn a_constant() {}

const NAME: &str = "scan";

fn main() {}
