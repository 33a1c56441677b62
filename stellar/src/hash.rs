//! Transaction hashes: `sha256(network id ‖ envelope type ‖ transaction)`,
//! computed by streaming the XDR into the hasher.

use std::io::Write;

use sha2::{Digest, Sha256};
use stellar_xdr::{EnvelopeType, FeeBumpTransaction, Limited, Limits, Transaction, TransactionEnvelope, WriteXdr};

/// Streams XDR straight into SHA-256 (no intermediate buffer).
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// sha256(network id ‖ envelope type ‖ tx), the network's transaction hash.
pub fn envelope_hash(env: &TransactionEnvelope, network_id: &[u8; 32]) -> [u8; 32] {
    match env {
        TransactionEnvelope::TxV0(e) => {
            // V0 envelopes hash as the equivalent V1 transaction.
            let tx: Transaction = e.tx.clone().into();
            tagged_hash(network_id, EnvelopeType::Tx, &tx)
        }
        TransactionEnvelope::Tx(e) => tagged_hash(network_id, EnvelopeType::Tx, &e.tx),
        TransactionEnvelope::TxFeeBump(e) => tagged_hash(network_id, EnvelopeType::TxFeeBump, &e.tx),
    }
}

/// Hash of the inner transaction of a fee bump.
pub fn inner_hash(fee_bump: &FeeBumpTransaction, network_id: &[u8; 32]) -> [u8; 32] {
    let stellar_xdr::FeeBumpTransactionInnerTx::Tx(inner) = &fee_bump.inner_tx;
    tagged_hash(network_id, EnvelopeType::Tx, &inner.tx)
}

fn tagged_hash(network_id: &[u8; 32], ty: EnvelopeType, tx: &impl WriteXdr) -> [u8; 32] {
    let mut w = Limited::new(HashWriter(Sha256::new()), Limits::none());
    w.inner.0.update(network_id);
    w.inner.0.update((ty as i32).to_be_bytes());
    // Writing into a hasher cannot fail; a value that cannot be re-encoded
    // would not have decoded in the first place.
    let _ = tx.write_xdr(&mut w);
    w.inner.0.finalize().into()
}
