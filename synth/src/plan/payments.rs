//! Payments and account lifecycle: native and credit payments, issuer mints, path payments both ways, account creation, merges and sequence bumps.

use super::*;

impl Round<'_, '_> {
    pub(super) fn pay_native(&mut self) -> Option<Draft> {
        let src = self.pick_user(30 * XLM)?;
        let n = if self.rng.chance(0.12) { 2 + self.rng.below(4) as usize } else { 1 };
        let avail = self.avail(&src, NATIVE);
        let mut ops = Vec::new();
        for _ in 0..n {
            let dest = self.pick_dest(&src)?;
            let amount = if self.fail() {
                avail + self.rng.range(1, 1000) * XLM
            } else {
                self.rng.range(XLM / 10, (avail / (4 * n as i64)).clamp(XLM, 5_000 * XLM))
            };
            let destination = self.muxed(&dest);
            ops.push(op(OperationBody::Payment(PaymentOp { destination, asset: Asset::Native, amount })));
        }
        Some(Draft::new(src, ops))
    }

    pub(super) fn pay_credit(&mut self) -> Option<Draft> {
        let asset = 1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx;
        let src = self.pick_holder(asset, 1)?;
        let avail = self.avail(&src, asset);
        let failing = self.fail();
        let dest = if failing {
            self.pick_dest(&src)?
        } else if self.rng.chance(0.05) {
            self.u().asset(asset).issuer
        } else {
            self.pick_receiver(asset, &src)?
        };
        let amount =
            if failing && self.can_receive(&dest, asset) { avail + 1 } else { self.rng.range(1, (avail / 3).max(1)) };
        let destination = self.muxed(&dest);
        let asset_xdr = self.u().asset(asset).xdr.clone();
        Some(Draft::new(src, vec![op(OperationBody::Payment(PaymentOp { destination, asset: asset_xdr, amount }))]))
    }

    /// An issuer sends its asset to a holder of an authorized trustline.
    pub(super) fn issuer_mint(&mut self) -> Option<Draft> {
        for _ in 0..32 {
            let &(dest, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(asset) = ta else { continue };
            let issuer = self.u().asset(asset).issuer;
            if !self.usable(&issuer) || !self.can_receive(&dest, asset) {
                continue;
            }
            let xlm = 200.0 + self.rng.unit() * 5_000.0;
            let amount = self.worth(asset, xlm);
            let asset_xdr = self.u().asset(asset).xdr.clone();
            let destination = self.muxed(&dest);
            let body = PaymentOp { destination, asset: asset_xdr, amount };
            return Some(Draft::new(issuer, vec![op(OperationBody::Payment(body))]));
        }
        None
    }

    pub(super) fn path_payment(&mut self, strict_send: bool) -> Option<Draft> {
        let (from, to) = self.market_pair();
        let src = self.pick_holder(from, 10)?;
        let dest = if self.rng.chance(0.4) && self.can_receive(&src, to) { src } else { self.pick_receiver(to, &src)? };
        let via_xlm = from != NATIVE && to != NATIVE && (self.u().pool_for(from, to).is_none() || self.rng.chance(0.5));
        let hops: Vec<AssetIx> = if via_xlm { vec![NATIVE] } else { Vec::new() };
        let path = dex::full_path(from, &hops, to);
        let budget = self.avail(&src, from).min(self.worth(from, 2_000.0));
        let failing = self.fail();
        let xdr = |s: &Self, a: AssetIx| s.u().asset(a).xdr.clone();
        let path_xdr = vecm(hops.iter().map(|&a| xdr(self, a)).collect());
        let destination = self.muxed(&dest);
        let body = if strict_send {
            let send = self.rng.range(1, budget.max(1) / 2 + 1);
            let quote = dex::quote_send(self.st, self.env, &src, &path, send);
            let dest_min = match quote {
                Some(q) if !failing => (q as f64 * 0.98) as i64,
                Some(q) => q + q / 2 + 1,
                None if failing => self.worth(to, 10.0),
                None => return None,
            };
            OperationBody::PathPaymentStrictSend(PathPaymentStrictSendOp {
                send_asset: xdr(self, from),
                send_amount: send,
                destination,
                dest_asset: xdr(self, to),
                dest_min: dest_min.max(1),
                path: path_xdr,
            })
        } else {
            let want = self.rng.range(1, self.worth(to, 200.0).max(2));
            let quote = dex::quote_receive(self.st, self.env, &src, &path, want);
            let send_max = match quote {
                Some(q) if !failing && q <= budget => q + q / 50 + 1,
                Some(q) if failing => (q / 2).max(1),
                _ if failing => self.worth(from, 1.0),
                _ => return None,
            };
            OperationBody::PathPaymentStrictReceive(PathPaymentStrictReceiveOp {
                send_asset: xdr(self, from),
                send_max,
                destination,
                dest_asset: xdr(self, to),
                dest_amount: want,
                path: path_xdr,
            })
        };
        Some(Draft::new(src, vec![op(body)]))
    }

    pub(super) fn create_account(&mut self) -> Option<Draft> {
        let src = self.pick_user(200 * XLM)?;
        let k = self.new_key();
        self.sc.new_accounts.insert(k);
        let start = if self.fail() { XLM / 2 } else { self.rng.range(5, 100) * XLM };
        Some(Draft::new(
            src,
            vec![op(OperationBody::CreateAccount(CreateAccountOp {
                destination: account_id(&k),
                starting_balance: start,
            }))],
        ))
    }

    pub(super) fn merge(&mut self) -> Option<Draft> {
        if self.users() <= self.pl.min_users {
            return None;
        }
        for _ in 0..16 {
            let id = self.pick_user(0)?;
            let a = self.st.account(&id)?;
            let seq_ok = a.seq < i64::from(self.env.seq) << 32;
            if a.num_sub_entries as usize == a.signers.len() && a.num_sponsoring == 0 && seq_ok {
                let dest = self.pick_dest(&id)?;
                let dest = self.muxed(&dest);
                return Some(Draft::new(id, vec![op(OperationBody::AccountMerge(dest))]));
            }
        }
        None
    }

    pub(super) fn bump_seq(&mut self) -> Option<Draft> {
        let src = self.pick_user(10 * XLM)?;
        let seq = self.st.account(&src)?.seq;
        let to = if self.rng.chance(0.2) { seq } else { seq + 1 + self.rng.below(1_000) as i64 };
        Some(Draft::new(src, vec![op(OperationBody::BumpSequence(BumpSequenceOp { bump_to: SequenceNumber(to) }))]))
    }
}
