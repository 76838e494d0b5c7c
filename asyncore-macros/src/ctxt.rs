//! The error accumulator shared by every stage, and the names the attribute knows.
//!
//! Stages record every problem they find instead of stopping at the first, so the user
//! sees all of them in one build; [`Errors::finish`] folds them into one [`syn::Error`]
//! (several `compile_error!`s, each at its own span).

/// `protocol = ...`: the protocol description a channel is generated from.
pub(crate) const PROTOCOL: &str = "protocol";
/// `role = server|client`: which side of the protocol the channel plays.
pub(crate) const ROLE: &str = "role";
/// The attribute's arguments, in the order error messages list them.
pub(crate) const ARGUMENTS: [&str; 2] = [PROTOCOL, ROLE];

/// The name of the runtime trait the attribute implements, for messages.
pub(crate) const TRAIT: &str = "Dispatcher";

/// Errors collected by a stage; `finish` turns them into one result.
#[derive(Default)]
#[must_use = "collected errors are lost unless `finish` is called"]
pub(crate) struct Errors {
    first: Option<syn::Error>,
}

impl Errors {
    /// Records an error; it is reported together with all the others.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.first {
            Some(first) => first.combine(error),
            None => self.first = Some(error),
        }
    }

    /// Records `Err`s and passes `Ok` values through as `Some`.
    pub(crate) fn keep<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// `Ok(())` when nothing was recorded, otherwise every recorded error as one.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.first {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    #[test]
    fn finish_is_ok_when_nothing_was_recorded() {
        assert!(Errors::default().finish().is_ok());
    }

    #[test]
    fn finish_reports_every_recorded_error_in_order() {
        let mut errors = Errors::default();
        errors.push(syn::Error::new(Span::call_site(), "first"));
        assert_eq!(errors.keep::<u8>(Ok(7)), Some(7));
        assert_eq!(
            errors.keep::<u8>(Err(syn::Error::new(Span::call_site(), "second"))),
            None
        );
        let all: Vec<String> = errors
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(all, ["first", "second"]);
    }
}
