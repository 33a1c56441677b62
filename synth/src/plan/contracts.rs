//! Soroban: Wasm upload, contract creation, token mint and transfer calls, TTL extension and restoration, with their footprints.

use super::*;

impl Round<'_, '_> {
    pub(super) fn soroban_action(&mut self, a: SorobanAction) -> Option<Draft> {
        match a {
            SorobanAction::Upload => self.upload(),
            SorobanAction::Create => self.create_contract(),
            SorobanAction::Mint => self.mint(),
            SorobanAction::Transfer => self.transfer(),
            SorobanAction::Extend => self.extend(),
            SorobanAction::Restore => self.restore(),
        }
    }

    /// Resource declaration and fee of a Soroban transaction.
    pub(super) fn soroban_data(&mut self, read_only: Vec<Key>, read_write: Vec<Key>) -> SorobanTransactionData {
        for k in &read_write {
            self.sc.soroban_keys.insert(k.clone());
        }
        let u = self.env.u;
        SorobanTransactionData {
            ext: SorobanTransactionDataExt::V0,
            resources: SorobanResources {
                footprint: LedgerFootprint {
                    read_only: vecm(read_only.iter().map(|k| ledger_key(u, k)).collect()),
                    read_write: vecm(read_write.iter().map(|k| ledger_key(u, k)).collect()),
                },
                instructions: 1_000_000 + self.rng.below(40_000_000) as u32,
                disk_read_bytes: self.rng.below(12_000) as u32,
                write_bytes: 200 + self.rng.below(6_000) as u32,
            },
            resource_fee: 40_000 + self.rng.below(2_000_000) as i64,
        }
    }

    pub(super) fn free(&self, k: &Key) -> bool {
        !self.sc.soroban_keys.contains(k)
    }

    pub(super) fn upload(&mut self) -> Option<Draft> {
        if self.st.codes.len() >= 4 && !self.rng.chance(0.1) {
            return None;
        }
        let src = self.pick_soroban_user(50 * XLM)?;
        let code = super::super::wasm::module(self.rng);
        let hash = super::super::universe::sha256(&[&code]);
        let key = Key::ContractCode(hash);
        let data = self.soroban_data(Vec::new(), vec![key]);
        let body = InvokeHostFunctionOp {
            host_function: HostFunction::UploadContractWasm(code.try_into().expect("code fits")),
            auth: Default::default(),
        };
        let mut d = Draft::new(src, vec![op(OperationBody::InvokeHostFunction(body))]);
        d.soroban = Some(data);
        Some(d)
    }

    pub(super) fn create_contract(&mut self) -> Option<Draft> {
        if self.st.contracts.len() >= 12 && !self.rng.chance(0.05) {
            return None;
        }
        let code = *self.st.codes.pick(self.rng)?;
        if !self.free(&Key::ContractCode(code))
            || liveness(self.st, self.env.seq, self.u(), &Key::ContractCode(code)) != Liveness::Live
        {
            return None;
        }
        let src = self.pick_soroban_user(50 * XLM)?;
        self.pl.salt += 1;
        let salt = super::super::universe::sha256(&[b"salt", &self.pl.salt.to_be_bytes()]);
        let preimage = ContractIdPreimage::Address(ContractIdPreimageFromAddress {
            address: account_address(&src),
            salt: Uint256(salt),
        });
        let id = super::super::universe::contract_id(&self.u().network_id, preimage.clone());
        let instance = Key::ContractData(id, CKey::Instance, Durability::Persistent);
        if !self.free(&instance) {
            return None;
        }
        self.pl.admins.insert(id, src);
        let args =
            CreateContractArgs { contract_id_preimage: preimage, executable: ContractExecutable::Wasm(Hash(code)) };
        let auth = SorobanAuthorizationEntry {
            credentials: SorobanCredentials::SourceAccount,
            root_invocation: SorobanAuthorizedInvocation {
                function: SorobanAuthorizedFunction::CreateContractHostFn(args.clone()),
                sub_invocations: Default::default(),
            },
        };
        let data = self.soroban_data(vec![Key::ContractCode(code)], vec![instance]);
        let body = InvokeHostFunctionOp { host_function: HostFunction::CreateContract(args), auth: vecm(vec![auth]) };
        let mut d = Draft::new(src, vec![op(OperationBody::InvokeHostFunction(body))]);
        d.soroban = Some(data);
        Some(d)
    }

    /// The code of a contract whose instance and code are live and not
    /// written by another Soroban transaction of this ledger.
    pub(super) fn usable_contract(&self, c: &Id) -> Option<Id> {
        let instance = Key::ContractData(*c, CKey::Instance, Durability::Persistent);
        if !self.free(&instance) || liveness(self.st, self.env.seq, self.u(), &instance) != Liveness::Live {
            return None;
        }
        let code = match self.st.get(&instance).map(|s| &s.entry) {
            Some(super::super::state::Entry::ContractData(ScVal::ContractInstance(i))) => match &i.executable {
                ContractExecutable::Wasm(h) => h.0,
                _ => return None,
            },
            _ => return None,
        };
        let code_key = Key::ContractCode(code);
        (self.free(&code_key) && liveness(self.st, self.env.seq, self.u(), &code_key) == Liveness::Live).then_some(code)
    }

    /// A random usable contract and its code.
    pub(super) fn live_contract(&mut self) -> Option<(Id, Id)> {
        for _ in 0..8 {
            let c = *self.st.contracts.pick(self.rng)?;
            if let Some(code) = self.usable_contract(&c) {
                return Some((c, code));
            }
        }
        None
    }

    pub(super) fn invoke_draft(
        &mut self,
        src: Id,
        contract: Id,
        code: Id,
        func: &str,
        args: Vec<ScVal>,
        rw: Vec<Key>,
    ) -> Draft {
        let call = InvokeContractArgs {
            contract_address: contract_address(&contract),
            function_name: ScSymbol(func.try_into().expect("short symbol")),
            args: vecm(args),
        };
        let auth = SorobanAuthorizationEntry {
            credentials: SorobanCredentials::SourceAccount,
            root_invocation: SorobanAuthorizedInvocation {
                function: SorobanAuthorizedFunction::ContractFn(call.clone()),
                sub_invocations: Default::default(),
            },
        };
        let ro = vec![Key::ContractData(contract, CKey::Instance, Durability::Persistent), Key::ContractCode(code)];
        let data = self.soroban_data(ro, rw);
        let body = InvokeHostFunctionOp { host_function: HostFunction::InvokeContract(call), auth: vecm(vec![auth]) };
        let mut d = Draft::new(src, vec![op(OperationBody::InvokeHostFunction(body))]);
        d.soroban = Some(data);
        d
    }

    /// An archived balance of a usable contract: minting to it restores it
    /// automatically (protocol 23+).
    pub(super) fn archived_balance(&mut self) -> Option<(Id, Id, Id)> {
        let k = self.st.archived.pick(self.rng)?.clone();
        let Key::ContractData(c, CKey::Balance(to), Durability::Persistent) = k else { return None };
        let code = self.usable_contract(&c)?;
        Some((c, code, to))
    }

    pub(super) fn mint(&mut self) -> Option<Draft> {
        let archived = if self.rng.chance(0.4) { self.archived_balance() } else { None };
        let (c, code, to) = match archived {
            Some((c, code, to)) => (c, code, Some(to)),
            None => {
                let (c, code) = self.live_contract()?;
                (c, code, None)
            }
        };
        let admin = *self.pl.admins.get(&c)?;
        if !self.usable(&admin) || self.sc.soroban_sources.contains(&admin) || self.avail(&admin, NATIVE) < 30 * XLM {
            return None;
        }
        let to = match to {
            Some(t) => t,
            None => self.pick_user(0)?,
        };
        let bal = Key::ContractData(c, CKey::Balance(to), Durability::Persistent);
        if !self.free(&bal) {
            return None;
        }
        let restore = liveness(self.st, self.env.seq, self.u(), &bal) == Liveness::Archived;
        let amount = i128::from(self.rng.range(1_000, 1_000_000_000));
        let args = vec![ScVal::Address(account_address(&to)), i128_val(amount)];
        let mut d = self.invoke_draft(admin, c, code, "mint", args, vec![bal]);
        if restore && let Some(s) = d.soroban.as_mut() {
            // The balance is read-write entry 0: declare it archived.
            s.ext = SorobanTransactionDataExt::V1(stellar_xdr::SorobanResourcesExtV0 {
                archived_soroban_entries: vecm(vec![0]),
            });
        }
        Some(d)
    }

    pub(super) fn transfer(&mut self) -> Option<Draft> {
        for _ in 0..12 {
            let key = self.st.contract_balances.pick(self.rng)?.clone();
            let Key::ContractData(c, CKey::Balance(from), _) = key.clone() else { continue };
            if !self.usable(&from) || self.sc.soroban_sources.contains(&from) || self.avail(&from, NATIVE) < 30 * XLM {
                continue;
            }
            if !self.free(&key) || liveness(self.st, self.env.seq, self.u(), &key) != Liveness::Live {
                continue;
            }
            let Some(code) = self.usable_contract(&c) else { continue };
            let balance = match self.st.get(&key).map(|s| &s.entry) {
                Some(super::super::state::Entry::ContractData(ScVal::I128(p))) => {
                    (i128::from(p.hi) << 64) | i128::from(p.lo)
                }
                _ => continue,
            };
            if balance <= 0 {
                continue;
            }
            let to = self.pick_user(0)?;
            let to_key = Key::ContractData(c, CKey::Balance(to), Durability::Persistent);
            if to == from
                || !self.free(&to_key)
                || liveness(self.st, self.env.seq, self.u(), &to_key) == Liveness::Archived
            {
                continue;
            }
            let amount = if self.fail() { balance + 1 } else { 1 + (self.rng.unit() * (balance as f64) / 2.0) as i128 };
            self.pl.nonce += 1;
            let nonce = self.pl.nonce;
            let nonce_key = Key::ContractData(c, CKey::Nonce(nonce), Durability::Temporary);
            let args = vec![
                ScVal::Address(account_address(&from)),
                ScVal::Address(account_address(&to)),
                i128_val(amount),
                ScVal::U64(nonce),
            ];
            return Some(self.invoke_draft(from, c, code, "transfer", args, vec![key, to_key, nonce_key]));
        }
        None
    }

    pub(super) fn extend(&mut self) -> Option<Draft> {
        let src = self.pick_soroban_user(30 * XLM)?;
        let mut keys = Vec::new();
        for _ in 0..3 {
            let k = match self.rng.below(3) {
                0 => Key::ContractData(*self.st.contracts.pick(self.rng)?, CKey::Instance, Durability::Persistent),
                1 => Key::ContractCode(*self.st.codes.pick(self.rng)?),
                _ => self.st.contract_balances.pick(self.rng)?.clone(),
            };
            if self.free(&k) && !keys.contains(&k) && liveness(self.st, self.env.seq, self.u(), &k) == Liveness::Live {
                keys.push(k);
            }
        }
        if keys.is_empty() {
            return None;
        }
        let extend_to = 100 + self.rng.below(2_000) as u32;
        // Read-only keys may be shared, but keep two extensions off the same TTL.
        for k in &keys {
            self.sc.soroban_keys.insert(k.clone());
        }
        let data = self.soroban_data(keys, Vec::new());
        let body = ExtendFootprintTtlOp { ext: ExtensionPoint::V0, extend_to };
        let mut d = Draft::new(src, vec![op(OperationBody::ExtendFootprintTtl(body))]);
        d.soroban = Some(data);
        Some(d)
    }

    pub(super) fn restore(&mut self) -> Option<Draft> {
        let key = self.st.archived.pick(self.rng)?.clone();
        if !self.free(&key) {
            return None;
        }
        let src = self.pick_soroban_user(30 * XLM)?;
        let data = self.soroban_data(Vec::new(), vec![key]);
        let mut d =
            Draft::new(src, vec![op(OperationBody::RestoreFootprint(RestoreFootprintOp { ext: ExtensionPoint::V0 }))]);
        d.soroban = Some(data);
        Some(d)
    }
}
