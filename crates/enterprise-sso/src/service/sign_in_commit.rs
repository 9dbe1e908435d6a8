//! The account write of a one-commit sign-in, for the sign-in flows (the SAML ACS and the
//! OIDC callback of `enterprise-sso-flows`): the account found by subject and planned by the
//! rules of [`Connections::record_sign_in`], written together with the flow's operations
//! (its pending requests taken, its assertion ID, its client's code) in one
//! [`crate::SignInStore::commit_sign_ins`], retried while another sign-in of the same user
//! gets there first.

use super::{Connections, SignIn};
use crate::account::MappedIdentity;
use crate::connection::EnterpriseConnection;
use crate::error::{Error, Result};
use crate::millis::UnixMillis;
use crate::repo::Store;
use crate::sign_in_store::{SignInItem, SignInOp};

/// How a one-commit sign-in ended ([`Connections::commit_sign_in`]).
#[derive(Debug)]
pub enum Committed<T> {
    /// Written: the sign-in (its connection marked authenticated when this was its first)
    /// and what the flow's `extra` made for it.
    Done(Box<SignIn>, Option<T>),
    /// One of the operations could not be applied (a take found its record used
    /// meanwhile): nothing was written.
    Conflict,
    /// A rule refused the account write, the flow's `extra` failed, or every attempt met
    /// another writer of the same user: nothing was written.
    Refused(Error),
}

impl<R: Store> Connections<R> {
    /// Writes `conn`'s sign-in of `who` with `ops` in one commit. `extra` sees the planned
    /// sign-in and the time, and may add one record to the commit (a client's code) and a
    /// value to give back with it.
    pub async fn commit_sign_in<T>(
        &self,
        conn: EnterpriseConnection,
        who: &MappedIdentity,
        ops: &[SignInOp],
        mut extra: impl FnMut(&SignIn, i64) -> Result<Option<(SignInItem, T)>>,
    ) -> Result<Committed<T>> {
        let subject_key = format!("{}\u{0}{}", conn.id, who.provider_user_id);
        let writing = crate::write_lock::lock(&subject_key).await;
        let mut last = None;
        for _ in 0..=self.max_retries {
            let now = (self.clock)();
            let found = self
                .repo
                .find_account_by_subject(&conn.id, &who.provider_user_id)
                .await?;
            let (write, created) = match Self::plan_account(&conn, who, found.as_ref(), now) {
                Ok(planned) => planned,
                Err(e) => return Ok(Committed::Refused(e)),
            };
            let sign_in = SignIn {
                account: write.account().clone(),
                created,
                connection: conn.clone(),
            };
            let mut all = ops.to_vec();
            let made = match extra(&sign_in, now) {
                Ok(Some((item, made))) => {
                    all.push(SignInOp::Put(item));
                    Some(made)
                }
                Ok(None) => None,
                Err(e) => return Ok(Committed::Refused(e)),
            };
            match self
                .repo
                .commit_sign_ins(&all, Some(&write), UnixMillis::new(now))
                .await
            {
                Ok(Ok(_)) => {
                    drop(writing);
                    let connection = if conn.first_authenticated_at.is_none() {
                        self.mark_authenticated(&conn.id).await?
                    } else {
                        conn
                    };
                    return Ok(Committed::Done(
                        Box::new(SignIn {
                            connection,
                            ..sign_in
                        }),
                        made,
                    ));
                }
                Ok(Err(_)) => return Ok(Committed::Conflict),
                // Another sign-in of the same user got there first: read it again.
                Err(e @ (Error::AccountExists { .. } | Error::VersionConflict { .. })) => {
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Committed::Refused(last.unwrap_or_else(|| {
            Error::corrupt("no sign-in attempt was made")
        })))
    }
}
