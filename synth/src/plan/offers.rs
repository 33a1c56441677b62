//! The order book and the pools: sell, buy and passive offers (new and amended), issuer offers, pool trust lines, deposits and withdrawals.

use super::*;

impl Round<'_, '_> {
    pub(super) fn offer(&mut self, kind: OfferKind) -> Option<Draft> {
        // Sometimes change or cancel an existing offer instead.
        if !matches!(kind, OfferKind::Passive)
            && self.rng.chance(0.3)
            && let Some(d) = self.amend_offer(kind)
        {
            return Some(d);
        }
        let (sell, buy) = self.market_pair();
        let src = self.pick_holder(sell, 10)?;
        if !self.can_receive(&src, buy) || self.u().is_issuer(&src, buy) {
            return None;
        }
        let avail = self.avail(&src, sell);
        let fair = self.pl.mids[usize::from(sell)] / self.pl.mids[usize::from(buy)];
        // Mostly above the market (resting offers), sometimes below (crossing).
        let skew = 1.0 + (self.rng.unit() - 0.25) * 0.06;
        let amount = self.rng.range(1, (avail / 5).clamp(1, self.worth(sell, 3_000.0)));
        let (sx, bx) = (self.u().asset(sell).xdr.clone(), self.u().asset(buy).xdr.clone());
        let body = match kind {
            OfferKind::Sell => OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: sx,
                buying: bx,
                amount,
                price: price(px(fair * skew)),
                offer_id: 0,
            }),
            OfferKind::Passive => OperationBody::CreatePassiveSellOffer(CreatePassiveSellOfferOp {
                selling: sx,
                buying: bx,
                amount,
                price: price(px(fair * skew)),
            }),
            OfferKind::Buy => {
                // Price in units of `sell` per unit of `buy`.
                let p = px(skew / fair);
                let buy_amount = ((amount as f64) * fair / skew).max(1.0) as i64;
                OperationBody::ManageBuyOffer(ManageBuyOfferOp {
                    selling: sx,
                    buying: bx,
                    buy_amount,
                    price: price(p),
                    offer_id: 0,
                })
            }
        };
        Some(Draft::new(src, vec![op(body)]))
    }

    /// Updates or deletes a random existing offer of a usable account.
    pub(super) fn amend_offer(&mut self, kind: OfferKind) -> Option<Draft> {
        let &(seller, id) = self.st.offers.pick(self.rng)?;
        if !self.usable(&seller) || self.avail(&seller, NATIVE) < 5 * XLM {
            return None;
        }
        let o = self.st.offer(&seller, id)?.clone();
        let (sx, bx) = (self.u().asset(o.selling).xdr.clone(), self.u().asset(o.buying).xdr.clone());
        let cancel = self.rng.chance(0.4);
        let fair = self.pl.mids[usize::from(o.selling)] / self.pl.mids[usize::from(o.buying)];
        let new_price = px(fair * (1.0 + self.rng.unit() * 0.05));
        let body = match kind {
            OfferKind::Buy => OperationBody::ManageBuyOffer(ManageBuyOfferOp {
                selling: sx,
                buying: bx,
                buy_amount: if cancel {
                    0
                } else {
                    super::super::funds::mul_div_floor(o.amount, i64::from(new_price.n), i64::from(new_price.d)).max(1)
                },
                price: Price { n: new_price.d, d: new_price.n },
                offer_id: id,
            }),
            _ => OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: sx,
                buying: bx,
                amount: if cancel { 0 } else { (o.amount / 2).max(1) },
                price: price(new_price),
                offer_id: id,
            }),
        };
        Some(Draft::new(seller, vec![op(body)]))
    }

    /// An asset pair with likely liquidity: mostly one side is XLM.
    pub(super) fn market_pair(&mut self) -> (AssetIx, AssetIx) {
        let n = self.u().assets.len() as u64;
        let credit = 1 + self.rng.below(n - 1) as AssetIx;
        match self.rng.below(10) {
            0..=3 => (credit, NATIVE),
            4..=7 => (NATIVE, credit),
            _ => {
                let other = 1 + self.rng.below(n - 1) as AssetIx;
                if other == credit { (credit, NATIVE) } else { (credit, other) }
            }
        }
    }

    /// An issuer quotes its own asset against XLM on both sides of the market.
    pub(super) fn issuer_offer(&mut self) -> Option<Draft> {
        let asset = 1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx;
        let issuer = self.u().asset(asset).issuer;
        if !self.usable(&issuer) {
            return None;
        }
        let mid = self.pl.mids[usize::from(asset)];
        let (ax, nx) = (self.u().asset(asset).xdr.clone(), Asset::Native);
        let body = if self.rng.chance(0.5) {
            let xlm = 1_000.0 + self.rng.unit() * 20_000.0;
            let amount = self.worth(asset, xlm);
            let p = px(mid * (1.002 + self.rng.unit() * 0.03));
            OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: ax,
                buying: nx,
                amount,
                price: price(p),
                offer_id: 0,
            })
        } else {
            let amount = (1_000.0 + self.rng.unit() * 20_000.0) as i64 * XLM;
            let p = px((1.0 / mid) * (1.002 + self.rng.unit() * 0.03));
            OperationBody::ManageSellOffer(ManageSellOfferOp {
                selling: nx,
                buying: ax,
                amount,
                price: price(p),
                offer_id: 0,
            })
        };
        Some(Draft::new(issuer, vec![op(body)]))
    }

    /// A pool-share trustline for a holder of one of the pool's assets who
    /// trusts the other side too.
    pub(super) fn pool_trust(&mut self) -> Option<Draft> {
        for _ in 0..16 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Asset(a) = ta else { continue };
            if !self.usable(&id) || self.avail(&id, NATIVE) < 20 * XLM || !self.can_receive(&id, a) {
                continue;
            }
            let candidates: Vec<PoolIx> = (0..self.u().pools.len() as PoolIx)
                .filter(|&p| {
                    let info = self.u().pool(p);
                    let other = if info.a == a {
                        info.b
                    } else if info.b == a {
                        info.a
                    } else {
                        return false;
                    };
                    self.can_receive(&id, other) && self.st.trust(&id, TrustAsset::Pool(p)).is_none()
                })
                .collect();
            let Some(&p) = self.rng.pick(&candidates) else { continue };
            let line = self.change_trust_asset(TrustAsset::Pool(p));
            return Some(Draft::new(id, vec![op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit: i64::MAX }))]));
        }
        None
    }

    pub(super) fn pool_deposit(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Pool(p) = ta else { continue };
            if !self.usable(&id) || self.avail(&id, NATIVE) < 20 * XLM {
                continue;
            }
            let info = self.u().pool(p).clone();
            let (have_a, have_b) = (self.avail(&id, info.a), self.avail(&id, info.b));
            if have_a < 100 || have_b < 100 {
                continue;
            }
            let pool = self.st.pool(p)?.clone();
            let ratio = if pool.shares > 0 {
                pool.reserve_b as f64 / pool.reserve_a as f64
            } else {
                self.pl.mids[usize::from(info.a)] / self.pl.mids[usize::from(info.b)]
            };
            let max_a = (have_a / 4).min(self.worth(info.a, 5_000.0)).max(1);
            let max_b = ((max_a as f64 * ratio) as i64).min(have_b / 4).max(1);
            let max_a = ((max_b as f64 / ratio) as i64).clamp(1, max_a);
            let p_mid = max_a as f64 / max_b as f64;
            let body = LiquidityPoolDepositOp {
                liquidity_pool_id: PoolId(Hash(info.id)),
                max_amount_a: max_a,
                max_amount_b: max_b,
                min_price: price(px(p_mid * 0.9)),
                max_price: price(px(p_mid * 1.1)),
            };
            return Some(Draft::new(id, vec![op(OperationBody::LiquidityPoolDeposit(body))]));
        }
        None
    }

    pub(super) fn pool_withdraw(&mut self) -> Option<Draft> {
        for _ in 0..24 {
            let &(id, ta) = self.st.trustlines.pick(self.rng)?;
            let TrustAsset::Pool(p) = ta else { continue };
            let t = self.st.trust(&id, ta)?;
            if t.balance <= 0 || !self.usable(&id) || self.avail(&id, NATIVE) < 5 * XLM {
                continue;
            }
            let amount = if self.rng.chance(0.3) { t.balance } else { self.rng.range(1, t.balance) };
            let body = LiquidityPoolWithdrawOp {
                liquidity_pool_id: PoolId(Hash(self.u().pool(p).id)),
                amount,
                min_amount_a: 0,
                min_amount_b: 0,
            };
            let mut ops = vec![op(OperationBody::LiquidityPoolWithdraw(body))];
            // Leaving the pool entirely drops the pool-share trustline too (and
            // the pool itself with its last trustline), so removals get exercised.
            if amount == t.balance {
                let line = self.change_trust_asset(ta);
                ops.push(op(OperationBody::ChangeTrust(ChangeTrustOp { line, limit: 0 })));
            }
            return Some(Draft::new(id, ops));
        }
        None
    }
}
