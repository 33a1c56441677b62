//! Account settings: set options and signers, manage data, sponsorship sandwiches and revocation.

use super::*;

impl Round<'_, '_> {
    pub(super) fn set_options(&mut self) -> Option<Draft> {
        let src = self.pick_user(20 * XLM)?;
        let acct = self.st.account(&src)?.clone();
        let mut o = SetOptionsOp {
            inflation_dest: None,
            clear_flags: None,
            set_flags: None,
            master_weight: None,
            low_threshold: None,
            med_threshold: None,
            high_threshold: None,
            home_domain: None,
            signer: None,
        };
        match self.rng.below(4) {
            0 => {
                let d = format!("user{}.example.com", self.rng.below(10_000));
                o.home_domain = Some(stellar_xdr::String32(d.as_str().try_into().expect("short domain")));
            }
            1 if !acct.signers.is_empty() => {
                let s = acct.signers[self.rng.below(acct.signers.len() as u64) as usize].key;
                o.signer = Some(Signer { key: SignerKey::Ed25519(Uint256(s)), weight: 0 });
            }
            2 => {
                o.low_threshold = Some(self.rng.below(2) as u32);
                o.med_threshold = Some(1);
                o.high_threshold = Some(1);
                o.master_weight = Some(1 + self.rng.below(3) as u32);
            }
            _ => {
                let k = self.new_key();
                o.signer = Some(Signer { key: SignerKey::Ed25519(Uint256(k)), weight: 1 });
            }
        }
        Some(Draft::new(src, vec![op(OperationBody::SetOptions(o))]))
    }

    pub(super) fn manage_data(&mut self) -> Option<Draft> {
        if self.rng.chance(0.3)
            && let Some((id, name)) = self.st.data.pick(self.rng).cloned()
            && self.usable(&id)
            && self.avail(&id, NATIVE) > 5 * XLM
        {
            let body = ManageDataOp {
                data_name: stellar_xdr::String64(name.as_str().try_into().expect("stored names fit")),
                data_value: None,
            };
            return Some(Draft::new(id, vec![op(OperationBody::ManageData(body))]));
        }
        let src = self.pick_user(20 * XLM)?;
        let name = format!("config.{}", self.rng.below(8));
        let len = 1 + self.rng.below(64) as usize;
        let value: Vec<u8> = (0..len).map(|_| b'a' + self.rng.below(26) as u8).collect();
        let body = ManageDataOp {
            data_name: stellar_xdr::String64(name.as_str().try_into().expect("short name")),
            data_value: Some(DataValue(value.try_into().expect("at most 64 bytes"))),
        };
        Some(Draft::new(src, vec![op(OperationBody::ManageData(body))]))
    }

    /// Begin sponsoring / sponsored operation / end sponsoring, in one transaction.
    pub(super) fn sponsor(&mut self) -> Option<Draft> {
        let sponsor = self.pick_user(100 * XLM)?;
        let begin = |s: &Id| {
            op(OperationBody::BeginSponsoringFutureReserves(BeginSponsoringFutureReservesOp {
                sponsored_id: account_id(s),
            }))
        };
        let end = |s: &Id| op_from(s, OperationBody::EndSponsoringFutureReserves);
        match self.rng.below(3) {
            0 => {
                let k = self.new_key();
                self.sc.new_accounts.insert(k);
                let create = op(OperationBody::CreateAccount(CreateAccountOp {
                    destination: account_id(&k),
                    starting_balance: XLM,
                }));
                let mut d = Draft::new(sponsor, vec![begin(&k), create, end(&k)]);
                d.signers.push(k);
                Some(d)
            }
            1 => {
                let user = self.pick_user(5 * XLM).filter(|u| *u != sponsor)?;
                let asset = 1 + self.rng.below(self.u().assets.len() as u64 - 1) as AssetIx;
                if self.st.trust(&user, TrustAsset::Asset(asset)).is_some() {
                    return None;
                }
                let line = self.change_trust_asset(TrustAsset::Asset(asset));
                let trust = op_from(&user, OperationBody::ChangeTrust(ChangeTrustOp { line, limit: i64::MAX }));
                let mut d = Draft::new(sponsor, vec![begin(&user), trust, end(&user)]);
                d.signers.push(user);
                Some(d)
            }
            _ => {
                let user = self.pick_user(5 * XLM).filter(|u| *u != sponsor)?;
                let name = format!("sponsored.{}", self.rng.below(4));
                if self.st.contains(&Key::Data(user, name.clone())) {
                    return None;
                }
                let data = op_from(
                    &user,
                    OperationBody::ManageData(ManageDataOp {
                        data_name: stellar_xdr::String64(name.as_str().try_into().expect("short name")),
                        data_value: Some(DataValue(b"sponsored".to_vec().try_into().expect("short value"))),
                    }),
                );
                let mut d = Draft::new(sponsor, vec![begin(&user), data, end(&user)]);
                d.signers.push(user);
                Some(d)
            }
        }
    }

    pub(super) fn revoke_sponsorship(&mut self) -> Option<Draft> {
        for _ in 0..32 {
            let key = if self.rng.chance(0.5) {
                let &(id, ta) = self.st.trustlines.pick(self.rng)?;
                Key::Trust(id, ta)
            } else {
                let &id = self.st.accounts.pick(self.rng)?;
                Key::Account(id)
            };
            let Some(sponsor) = self.st.get(&key).and_then(|s| s.sponsor) else { continue };
            let owner = match &key {
                Key::Trust(id, _) | Key::Account(id) => *id,
                _ => continue,
            };
            if self.usable(&sponsor) && self.avail(&owner, NATIVE) >= 3 * self.env.base_reserve {
                let lk: LedgerKey = ledger_key(self.u(), &key);
                return Some(Draft::new(
                    sponsor,
                    vec![op(OperationBody::RevokeSponsorship(RevokeSponsorshipOp::LedgerEntry(lk)))],
                ));
            }
        }
        None
    }
}
