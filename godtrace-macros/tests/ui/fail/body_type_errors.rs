use godtrace::traced;

#[traced]
async fn wrong_tail() -> u32 {
    "not a number"
}

#[traced]
fn wrong_early_return(flag: bool) -> u32 {
    if flag {
        return "early";
    }
    1
}

#[traced]
fn trailing_semicolon() -> u32 {
    1;
}

#[traced]
async fn async_wrong_early_return(flag: bool) -> Result<u32, String> {
    if flag {
        return Ok("x");
    }
    Ok(1)
}

fn main() {}
