//! Who people are: the file directory and OpenLDAP, badges, PINs, authenticated printing.

mod file;
mod ldap;
