use godtrace::traced;

#[traced(parent = request_id)]
fn from_an_id(request_id: u64) {}

#[traced(parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
async fn from_a_header() {}

fn main() {}
