use godtrace::traced;

#[traced]
async fn forever() -> ! {
    loop {
        std::future::pending::<()>().await;
    }
}

fn main() {}
