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

#[traced(operation = "ok.a.name.of.exactly.two.hundred.and.fifty.six.bytes.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
fn longest() {}

#[traced(operation = "too.long.a.name.of.two.hundred.and.fifty.seven.bytes.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
fn too_long() {}

#[traced(operation = "two\nlines")]
fn line_break() {}

#[traced(operation = "tab\there")]
fn tab() {}

fn main() {}
