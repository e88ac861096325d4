use godtrace::traced;

#[traced(sample_rate = 1.5)]
fn too_high() {}

#[traced(sample_rate = "0.1")]
fn a_string() {}

#[traced(sample_rate = RATE)]
fn a_constant() {}

const RATE: f64 = 0.1;

fn main() {}
