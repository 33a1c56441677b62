//! Trust lines and their flags: change trust, allow trust / set trust-line flags, clawback.

use super::*;

impl Round<'_, '_> {
    pub(super) fn change_trust(&mut self) -> Option<Draft> {
        let src = self.pick_user(20 * XLM)?;
        let roll = self.rng.below(10);
        if roll < 1 {
            // Drop an empty trustline.
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let t = self.st.trust(&id, ta)?;
            let pending = t.flags & (TL_AUTHORIZED | TL_MAINTAIN) == 0;
            if !self.usable(&id) || pending || t.balance != 0 || t.liabilities != Default::default() || t.pool_use != 0
            {
                return None;
            }
            let line = self.change_trust_asset(ta);
            return Some(Draft::new(id, vec![op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit: 0 }))]));
        }
        if roll < 4 {
            return self.pool_trust();
        }
        // GOLD (auth required, clawback enabled) often, so authorization and
        // clawback have trustlines to act on.
        let asset = if self.rng.chance(0.25) {
            self.gold()
        } else {
            1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx
        };
        if self.st.trust(&src, TrustAsset::Asset(asset)).is_some() {
            return None;
        }
        let limit = if self.rng.chance(0.8) { i64::MAX } else { self.worth(asset, 1_000_000.0) };
        let line = self.change_trust_asset(TrustAsset::Asset(asset));
        Some(Draft::new(src, vec![op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit }))]))
    }

    pub(super) fn change_trust_asset(&self, ta: TrustAsset) -> ChangeTrustAsset {
        match ta {
            TrustAsset::Asset(a) => match &self.u().asset(a).xdr {
                Asset::Native => ChangeTrustAsset::Native,
                Asset::CreditAlphanum4(x) => ChangeTrustAsset::CreditAlphanum4(x.clone()),
                Asset::CreditAlphanum12(x) => ChangeTrustAsset::CreditAlphanum12(x.clone()),
            },
            TrustAsset::Pool(p) => ChangeTrustAsset::PoolShare(self.u().pool(p).params.clone()),
        }
    }

    /// An issuer authorizes a pending trustline (or toggles maintain-liabilities).
    pub(super) fn authorize(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(asset) = ta else { continue };
            let info = self.u().asset(asset).clone();
            if info.issuer_flags & AUTH_REQUIRED == 0 || !self.usable(&info.issuer) {
                continue;
            }
            let flags = self.st.trust(&id, ta)?.flags;
            let (set, clear) = if flags & (TL_AUTHORIZED | TL_MAINTAIN) == 0 {
                (TL_AUTHORIZED, 0)
            } else if flags & TL_MAINTAIN != 0 {
                (TL_AUTHORIZED, TL_MAINTAIN)
            } else if self.rng.chance(0.2) {
                (TL_MAINTAIN, TL_AUTHORIZED)
            } else {
                continue;
            };
            let body = if self.rng.chance(0.5) {
                let code = match &info.xdr {
                    Asset::CreditAlphanum4(x) => AssetCode::CreditAlphanum4(x.asset_code.clone()),
                    Asset::CreditAlphanum12(x) => AssetCode::CreditAlphanum12(x.asset_code.clone()),
                    Asset::Native => continue,
                };
                OperationBody::AllowTrust(AllowTrustOp { trustor: account_id(&id), asset: code, authorize: set })
            } else {
                OperationBody::SetTrustLineFlags(SetTrustLineFlagsOp {
                    trustor: account_id(&id),
                    asset: info.xdr.clone(),
                    clear_flags: clear,
                    set_flags: set,
                })
            };
            return Some(Draft::new(info.issuer, vec![op(body)]));
        }
        None
    }

    pub(super) fn clawback(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(asset) = ta else { continue };
            let t = self.st.trust(&id, ta)?;
            let issuer = self.u().asset(asset).issuer;
            if t.flags & TL_CLAWBACK != 0 && t.available() > 0 && self.usable(&issuer) {
                let amount = self.rng.range(1, (t.available() / 4).max(1));
                let body = ClawbackOp {
                    asset: self.u().asset(asset).xdr.clone(),
                    from: MuxedAccount::Ed25519(Uint256(id)),
                    amount,
                };
                return Some(Draft::new(issuer, vec![op(OperationBody::Clawback(body))]));
            }
        }
        None
    }
}
