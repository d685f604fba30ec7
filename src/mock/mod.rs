//! The bundled mock cloud upstream.
