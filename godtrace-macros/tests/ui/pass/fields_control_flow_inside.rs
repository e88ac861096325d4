use godtrace::traced;

fn lookup(id: u64) -> Result<u64, String> {
    Ok(id)
}

// Control flow that stays inside a field's value is fine: `?` and `return` in a closure or an
// async block, `break` and `continue` of a loop in the value, a labeled block's `break`.
#[traced(fields(
    a = (|| -> Result<u64, String> { Ok(lookup(id)? + 1) })().unwrap_or(0),
    b = { let mut n = 0; loop { n += 1; if n > 2 { break n } } },
    c = (0..id).filter(|i| i % 2 == 0).map(|i| { if i > 4 { return 0 } i }).sum::<u64>(),
    d = 'found: { for i in 0..id { if i == 3 { break 'found i } else { continue } } 0 },
    e = { fn helper(x: u64) -> Result<u64, String> { Ok(lookup(x)?) } helper(id).is_ok() },
))]
fn inside(id: u64) -> u64 {
    let _ = async { lookup(id)? ; Ok::<u64, String>(1) };
    id
}

fn main() {
    let _ = inside(5);
}
