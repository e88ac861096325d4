//! In a traced impl block, an async method's `#[tracing::instrument]` stays above the
//! `#[traced]` the block gives it, whether the method writes its own below or none, in a
//! `cfg_attr` or not, and when `#[async_trait]` has made the method sync first.
#![deny(warnings)]
use godtrace::traced;

struct S;

#[traced]
impl S {
    #[tracing::instrument(skip(self))]
    #[traced(include_args)]
    async fn own_below(&self, n: u8) -> u8 {
        n
    }

    #[tracing::instrument(skip(self))]
    async fn none_of_its_own(&self) -> u8 {
        1
    }

    #[tracing::instrument(skip(self))]
    fn sync_one(&self) -> u8 {
        2
    }

    #[cfg_attr(all(), tracing::instrument(skip(self)))]
    async fn under_cfg_attr(&self) -> u8 {
        3
    }
}

#[async_trait::async_trait]
trait Scorer {
    async fn score(&self) -> u8;
}

#[async_trait::async_trait]
#[traced]
impl Scorer for S {
    #[tracing::instrument(skip(self))]
    async fn score(&self) -> u8 {
        4
    }
}

fn main() {
    let s = S;
    let _ = s.own_below(1);
    let _ = s.none_of_its_own();
    let _ = s.sync_one();
    let _ = s.under_cfg_attr();
    let _ = s.score();
}
