//! `on_every_backend!(f, g, ...)`: a module per function with one test per backend
//! (`f::select`, `f::poll`, `f::epoll`), each calling `f(backend)`.
//!
//! Include it with `#[macro_use] #[path = "support/backends.rs"] mod backends;`.

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use asyncore_runtime::Backend;
            #[test]
            fn select() { super::$name(Backend::Select) }
            #[test]
            fn poll() { super::$name(Backend::Poll) }
            #[test]
            fn epoll() { super::$name(Backend::Epoll) }
        }
    )*};
}
