use super::Kind;

#[test]
fn effect_type_numbers_and_names() {
    assert_eq!(Kind::Trade as i32, 33);
    assert_eq!(Kind::Trade.name(), "trade");
    assert_eq!(Kind::ContractDebited as i32, 97);
    assert_eq!(Kind::RestoreFootprint.name(), "restore_footprint");
    assert_eq!(Kind::TrustlineAuthorizedToMaintainLiabilities as i32, 25);
}
