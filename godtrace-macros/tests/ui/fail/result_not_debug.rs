use godtrace::traced;

struct Receipt;

#[traced(include_result)]
fn mint() -> Result<Receipt, String> {
    Ok(Receipt)
}

#[traced(include_result)]
async fn mint_later() -> Receipt {
    Receipt
}

fn main() {}
