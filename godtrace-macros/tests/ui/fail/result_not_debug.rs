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

// Recorded whole: the error is under the whole type, not its first argument.
#[traced(include_result)]
fn receipts() -> std::collections::HashMap<u32, Receipt> {
    std::collections::HashMap::new()
}

fn main() {}
