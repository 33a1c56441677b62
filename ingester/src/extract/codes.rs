//! Result codes as stellar-etl (and the Go tool) spell them: the Go XDR
//! constant names, e.g. `TransactionResultCodeTxSuccess`,
//! `OperationResultCodeOpInner`, `PaymentResultCodePaymentUnderfunded`.
//!
//! The Rust XDR names drop the per-enum prefix (`PaymentResultCode::Underfunded`);
//! every operation result enum's prefix is its operation's name, so the Go
//! name is `{Op}ResultCode{Op}{Variant}`.

use stellar_xdr::{OperationResult, OperationResultTr, TransactionResultResult};

pub fn transaction_result_code(r: &TransactionResultResult) -> String {
    format!("TransactionResultCode{}", r.discriminant().name())
}

/// The outer operation result code, e.g. `OperationResultCodeOpInner`.
pub fn operation_result_code(r: &OperationResult) -> String {
    format!("OperationResultCode{}", r.discriminant().name())
}

/// The operation-specific code when the outer code is `opINNER`.
pub fn operation_trace_code(r: &OperationResult) -> Option<String> {
    let OperationResult::OpInner(tr) = r else {
        return None;
    };
    macro_rules! code {
        ($r:expr, $op:literal) => {
            format!(concat!($op, "ResultCode", $op, "{}"), $r.discriminant().name())
        };
    }
    use OperationResultTr as T;
    Some(match tr {
        T::CreateAccount(r) => code!(r, "CreateAccount"),
        T::Payment(r) => code!(r, "Payment"),
        T::PathPaymentStrictReceive(r) => code!(r, "PathPaymentStrictReceive"),
        T::ManageSellOffer(r) | T::CreatePassiveSellOffer(r) => code!(r, "ManageSellOffer"),
        T::SetOptions(r) => code!(r, "SetOptions"),
        T::ChangeTrust(r) => code!(r, "ChangeTrust"),
        T::AllowTrust(r) => code!(r, "AllowTrust"),
        T::AccountMerge(r) => code!(r, "AccountMerge"),
        T::Inflation(r) => code!(r, "Inflation"),
        T::ManageData(r) => code!(r, "ManageData"),
        T::BumpSequence(r) => code!(r, "BumpSequence"),
        T::ManageBuyOffer(r) => code!(r, "ManageBuyOffer"),
        T::PathPaymentStrictSend(r) => code!(r, "PathPaymentStrictSend"),
        T::CreateClaimableBalance(r) => code!(r, "CreateClaimableBalance"),
        T::ClaimClaimableBalance(r) => code!(r, "ClaimClaimableBalance"),
        T::BeginSponsoringFutureReserves(r) => code!(r, "BeginSponsoringFutureReserves"),
        T::EndSponsoringFutureReserves(r) => code!(r, "EndSponsoringFutureReserves"),
        T::RevokeSponsorship(r) => code!(r, "RevokeSponsorship"),
        T::Clawback(r) => code!(r, "Clawback"),
        T::ClawbackClaimableBalance(r) => code!(r, "ClawbackClaimableBalance"),
        T::SetTrustLineFlags(r) => code!(r, "SetTrustLineFlags"),
        T::LiquidityPoolDeposit(r) => code!(r, "LiquidityPoolDeposit"),
        T::LiquidityPoolWithdraw(r) => code!(r, "LiquidityPoolWithdraw"),
        T::InvokeHostFunction(r) => code!(r, "InvokeHostFunction"),
        T::ExtendFootprintTtl(r) => code!(r, "ExtendFootprintTtl"),
        T::RestoreFootprint(r) => code!(r, "RestoreFootprint"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{CreateAccountResult, PaymentResult};

    #[test]
    fn go_names() {
        let r = OperationResult::OpInner(OperationResultTr::CreateAccount(CreateAccountResult::AlreadyExist));
        assert_eq!(operation_result_code(&r), "OperationResultCodeOpInner");
        assert_eq!(operation_trace_code(&r).unwrap(), "CreateAccountResultCodeCreateAccountAlreadyExist");
        let r = OperationResult::OpInner(OperationResultTr::Payment(PaymentResult::Underfunded));
        assert_eq!(operation_trace_code(&r).unwrap(), "PaymentResultCodePaymentUnderfunded");
        assert_eq!(operation_result_code(&OperationResult::OpBadAuth), "OperationResultCodeOpBadAuth");
        assert_eq!(operation_trace_code(&OperationResult::OpBadAuth), None);
        assert_eq!(transaction_result_code(&TransactionResultResult::TxBadSeq), "TransactionResultCodeTxBadSeq");
    }
}
