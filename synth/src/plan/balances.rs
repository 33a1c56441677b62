//! Claimable balances: create, claim, clawback.

use super::*;

impl Round<'_, '_> {
    pub(super) fn create_balance(&mut self) -> Option<Draft> {
        // GOLD (clawback enabled) often, so clawbacks have something to act on.
        let asset = if self.rng.chance(0.4) { self.gold() } else { self.random_asset() };
        let src = self.pick_holder(asset, 2)?;
        let avail = self.avail(&src, asset);
        let amount = if self.fail() { avail + 1 } else { self.rng.range(1, (avail / 10).max(1)) };
        let n = 1 + self.rng.below(3) as usize;
        let mut claimants = Vec::new();
        let mut seen = Vec::new();
        for i in 0..n {
            let dest = if i == 0 && self.rng.chance(0.3) { src } else { self.pick_dest(&src)? };
            if seen.contains(&dest) {
                continue;
            }
            seen.push(dest);
            let predicate = match self.rng.below(5) {
                0 | 1 => ClaimPredicate::Unconditional,
                2 => ClaimPredicate::BeforeRelativeTime(3_600 + self.rng.below(30 * 86_400) as i64),
                3 => ClaimPredicate::Not(Some(Box::new(ClaimPredicate::BeforeAbsoluteTime(
                    self.env.close_time as i64 - 1,
                )))),
                _ => ClaimPredicate::Or(vecm(vec![
                    ClaimPredicate::BeforeRelativeTime(600),
                    ClaimPredicate::Not(Some(Box::new(ClaimPredicate::BeforeRelativeTime(86_400)))),
                ])),
            };
            claimants.push(Claimant::ClaimantTypeV0(ClaimantV0 { destination: account_id(&dest), predicate }));
        }
        let body =
            CreateClaimableBalanceOp { asset: self.u().asset(asset).xdr.clone(), amount, claimants: vecm(claimants) };
        Some(Draft::new(src, vec![op(OperationBody::CreateClaimableBalance(body))]))
    }

    pub(super) fn claim_balance(&mut self) -> Option<Draft> {
        for _ in 0..16 {
            let id = *self.st.balances.pick(self.rng)?;
            let b = self.st.claimable(&id)?.clone();
            let now = self.env.close_time;
            let failing = self.fail();
            let claimant = b.claimants.iter().find(|(d, p)| {
                self.usable(d)
                    && self.avail(d, NATIVE) >= 5 * XLM
                    && (failing || (super::super::ops::predicate_holds(p, now) && self.can_receive(d, b.asset)))
            });
            if let Some((d, _)) = claimant {
                let body =
                    ClaimClaimableBalanceOp { balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)) };
                return Some(Draft::new(*d, vec![op(OperationBody::ClaimClaimableBalance(body))]));
            }
        }
        None
    }

    pub(super) fn clawback_balance(&mut self) -> Option<Draft> {
        for _ in 0..16 {
            let id = *self.st.balances.pick(self.rng)?;
            let b = self.st.claimable(&id)?;
            let issuer = self.u().asset(b.asset).issuer;
            if b.clawback && self.usable(&issuer) {
                let body =
                    ClawbackClaimableBalanceOp { balance_id: ClaimableBalanceId::ClaimableBalanceIdTypeV0(Hash(id)) };
                return Some(Draft::new(issuer, vec![op(OperationBody::ClawbackClaimableBalance(body))]));
            }
        }
        None
    }
}
