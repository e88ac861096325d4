use godtrace::traced;

fn lookup(id: u64) -> Result<u64, String> {
    Ok(id)
}

// A field's value is evaluated when the span starts, apart from the body: it cannot leave the
// function, nor wait.
#[traced(fields(user.id = lookup(id)?))]
fn question_mark(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[traced(fields(user.id = if id == 0 { return 0 } else { id }))]
fn returns(id: u64) -> u64 {
    id
}

#[traced(fields(user.id = async { id }.await))]
async fn awaits(id: u64) -> u64 {
    id
}

fn in_a_loop(ids: &[u64]) {
    for &id in ids {
        #[traced(fields(user.id = if id == 0 { continue } else { id }))]
        fn inner(id: u64) -> u64 {
            id
        }
        let _ = inner(id);
    }
}

// Each at its token, all at once.
#[traced(fields(a = lookup(id)?, b = loop { break 'outer }, c = { return Ok(1) }))]
fn all_at_once(id: u64) -> Result<u64, String> {
    Ok(id)
}

fn main() {}
