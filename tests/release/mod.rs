//! Release at a copier: badge sessions, transports (IPP, IPPS, 9100, LPD), the terminal page, output to real and misbehaving copiers.

mod badges;
mod output;
mod terminal;
mod transport;
