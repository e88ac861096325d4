//! `cargo run --example nft_platform`: the platform guide's workflows, one trace each, with
//! their counters and histograms.
use crate::support::examples as examples_support;

use examples_support::{local, parse_trees, run};

#[test]
fn prints_each_workflow_as_a_tree_with_the_rejected_mint_marked_and_lists_its_metrics() {
    let (stdout, stderr) = run(local("nft_platform"));
    let trees = parse_trees(&stderr);
    let roots: Vec<&str> = trees.iter().map(|t| t.root().name.as_str()).collect();
    assert_eq!(
        roots,
        [
            "artist_onboarding",
            "nft_minting_workflow",
            "nft_minting_workflow",
            "secondary_market_royalty"
        ],
        "{stderr}"
    );
    for tree in &trees {
        assert!(
            stdout.contains(&format!("trace id: {}", tree.trace_id)),
            "{stdout}"
        );
    }

    let onboarding = &trees[0];
    assert_eq!(
        onboarding.children_of(onboarding.root()),
        ["verify_identity", "connect_wallet", "award_badge"]
    );
    assert_eq!(onboarding.root().attr("artist.id"), Some("artist_123"));
    assert_eq!(
        onboarding.one("connect_wallet").attr("wallet.address"),
        Some("0x71C7656EC7ab88b098defB751B7401B5f6d8976F")
    );

    let minted = &trees[1];
    assert!(minted.root().error.is_none(), "{minted:#?}");
    assert_eq!(
        minted.children_of(minted.root()),
        ["verify_watermark", "verify_zk_proof", "blockchain_mint"]
    );
    let watermark = minted.one("verify_watermark");
    assert_eq!(watermark.attr("watermark.valid"), Some("true"));
    assert_eq!(watermark.attr("watermark.confidence"), Some("0.98"));
    assert_eq!(
        minted.one("verify_zk_proof").attr("proof.valid"),
        Some("true")
    );
    let mint = minted.one("blockchain_mint");
    assert_eq!(mint.attr("nft.status"), Some("minted"));
    let token = mint.attr("nft.token_id").expect("nft.token_id").to_owned();
    assert!(mint.attr("tx.hash").unwrap().starts_with("0x"));

    // The tampered track: the watermark check fails, so does the workflow; nothing is minted.
    let rejected = &trees[2];
    let error = rejected
        .root()
        .error
        .as_deref()
        .expect("the workflow failed");
    assert!(
        error.contains("watermark of track_002 does not verify"),
        "{error}"
    );
    assert!(rejected.one("verify_watermark").error.is_some());
    assert_eq!(
        rejected.one("verify_watermark").attr("watermark.tampered"),
        Some("true")
    );
    assert_eq!(rejected.children_of(rejected.root()), ["verify_watermark"]);

    let royalty = &trees[3];
    assert_eq!(royalty.root().attr("nft.token_id"), Some(token.as_str()));
    assert_eq!(
        royalty.children_of(royalty.root()),
        [
            "detect_marketplace",
            "calculate_royalty",
            "distribute_royalty"
        ]
    );
    assert_eq!(
        royalty.one("detect_marketplace").attr("marketplace.name"),
        Some("opensea")
    );
    let calculated = royalty.one("calculate_royalty");
    assert_eq!(calculated.attr("royalty.amount"), Some("0.125"));
    assert_eq!(calculated.attr("royalty.percentage"), Some("5"));
    let distributed = royalty.one("distribute_royalty");
    assert_eq!(distributed.attr("distribution.status"), Some("completed"));
    assert_eq!(distributed.events, ["payout.sent"]);

    // Counters and histograms, as recorded by the workflows.
    for expected in [
        "counter   artist.verifications = 1",
        "counter   wallet.connections{wallet.type=metamask} = 1",
        "counter   badges.awarded = 1",
        "counter   nft.mints.total{chain=polygon} = 1",
        "counter   zk_proofs.verified.total = 1",
        "counter   marketplace.sales.detected{marketplace=opensea} = 1",
        "counter   royalties.distributed.total = 1",
        "histogram watermark.confidence_score count=2 sum=1.39",
        "histogram royalty.amounts count=1 sum=0.125",
        "histogram nft.mint.gas_used{chain=polygon} count=1 sum=",
        "histogram nft.mint.duration_ms{outcome=minted} count=1 sum=",
        "histogram nft.mint.duration_ms{outcome=rejected} count=1 sum=",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("view at:"),
        "no link without an endpoint:\n{stdout}"
    );
}
