//! A Kerberos initiator credential from a keytab, without touching the
//! process environment.
//!
//! MIT Kerberos reads the client keytab and the credential cache from
//! `KRB5_CLIENT_KTNAME` and `KRB5CCNAME`, but setting them is a process-wide
//! change that races every thread reading the environment (libkrb5's own
//! included), whatever lock kmsdns holds. MIT's credential-store extension,
//! `gss_acquire_cred_from` (`client_keytab` and `ccache` keys), takes both
//! per call instead. libgssapi 0.11 does not wrap it, hence the few lines
//! of FFI here; the name and the credential it returns are owned by
//! libgssapi's types as soon as they exist.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};

use libgssapi::credential::Cred;
use libgssapi::error::{Error, MajorFlags};
use libgssapi_sys::{
    gss_OID_desc, gss_acquire_cred_from, gss_buffer_desc, gss_cred_id_t, gss_cred_usage_t,
    gss_import_name, gss_key_value_element_desc, gss_key_value_set_desc, gss_name_t,
    gss_release_name, OM_uint32, _GSS_C_INDEFINITE, GSS_C_INITIATE, GSS_S_COMPLETE,
};

/// RFC 1964 §2.1.1, `GSS_KRB5_NT_PRINCIPAL_NAME`: `primary/instance@REALM`.
const KRB5_PRINCIPAL_OID: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01";

/// An initiator credential for `principal` (or the keytab's first one)
/// from `keytab`, its tickets kept in an in-memory cache of its own: they
/// never land in, or mix with, the user's cache or another acquisition's.
pub(crate) fn acquire(principal: Option<&str>, keytab: &Path) -> Result<Cred, Error> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let invalid = || Error {
        major: MajorFlags::GSS_S_CALL_INACCESSIBLE_READ,
        minor: 0,
    };
    let keytab = CString::new(keytab.as_os_str().as_bytes()).map_err(|_| invalid())?;
    let ccache = CString::new(format!(
        "MEMORY:kmsdns-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
    .map_err(|_| invalid())?;
    let mut elements = [
        gss_key_value_element_desc {
            key: c"client_keytab".as_ptr(),
            value: keytab.as_ptr(),
        },
        gss_key_value_element_desc {
            key: c"ccache".as_ptr(),
            value: ccache.as_ptr(),
        },
    ];
    let store = gss_key_value_set_desc {
        count: elements.len() as OM_uint32,
        elements: elements.as_mut_ptr(),
    };
    let name = match principal {
        Some(principal) => Some(ImportedName::krb5_principal(principal)?),
        None => None,
    };
    let mut minor: OM_uint32 = GSS_S_COMPLETE;
    let mut cred: gss_cred_id_t = ptr::null_mut();
    // SAFETY: every pointer is valid for the call (the C strings, the
    // store and the name outlive it); the credential handle it fills in
    // is handed to `Cred`, which releases it.
    let major = unsafe {
        gss_acquire_cred_from(
            &mut minor,
            name.as_ref().map_or(ptr::null_mut(), |name| name.0),
            _GSS_C_INDEFINITE,
            ptr::null_mut(),
            GSS_C_INITIATE as gss_cred_usage_t,
            &store,
            &mut cred,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if major != GSS_S_COMPLETE {
        return Err(Error {
            major: MajorFlags::from_bits_retain(major),
            minor,
        });
    }
    // SAFETY: a credential handle gss_acquire_cred_from just returned.
    Ok(unsafe { Cred::from_c(cred) })
}

/// A GSS-API name imported here (libgssapi's `Name` does not hand out its
/// handle), released on drop.
struct ImportedName(gss_name_t);

impl ImportedName {
    fn krb5_principal(principal: &str) -> Result<ImportedName, Error> {
        let mut buffer = gss_buffer_desc {
            length: principal.len(),
            value: principal.as_ptr() as *mut _,
        };
        let mut oid = gss_OID_desc {
            length: KRB5_PRINCIPAL_OID.len() as OM_uint32,
            elements: KRB5_PRINCIPAL_OID.as_ptr() as *mut _,
        };
        let mut minor: OM_uint32 = GSS_S_COMPLETE;
        let mut name: gss_name_t = ptr::null_mut();
        // SAFETY: the buffer and the OID point at data that outlives the
        // call, which only reads them (it copies what it keeps).
        let major = unsafe { gss_import_name(&mut minor, &mut buffer, &mut oid, &mut name) };
        if major != GSS_S_COMPLETE {
            return Err(Error {
                major: MajorFlags::from_bits_retain(major),
                minor,
            });
        }
        Ok(ImportedName(name))
    }
}

impl Drop for ImportedName {
    fn drop(&mut self) {
        let mut minor: OM_uint32 = GSS_S_COMPLETE;
        // SAFETY: a name gss_import_name returned, released once.
        unsafe {
            gss_release_name(&mut minor, &mut self.0);
        }
    }
}
