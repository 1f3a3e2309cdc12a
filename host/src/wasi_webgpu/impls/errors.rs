//! Error scopes and `gpu-error`: `gpu-device`'s `push-error-scope` and `pop-error-scope`
//! (on the instance's scope stack, [`Ctx`](super::super::state::Ctx)), and the
//! `gpu-error` resource a popped scope returns.

use wasmtime::component::Resource;

use super::super::bindings::wasi::webgpu::webgpu as w;
use super::super::objects::*;
use super::super::WebGpuState;
use super::R;

impl WebGpuState {
    /// `push-error-scope`: a scope catching errors of `filter`'s kind (past
    /// [`MAX_ERROR_SCOPES`](super::super::MAX_ERROR_SCOPES) open: a trap).
    pub(super) fn push_error_scope_of(&mut self, filter: w::GpuErrorFilter) -> R<()> {
        self.gpu.push_scope(match filter {
            w::GpuErrorFilter::Validation => ErrorKind::Validation,
            w::GpuErrorFilter::OutOfMemory => ErrorKind::OutOfMemory,
            w::GpuErrorFilter::Internal => ErrorKind::Internal,
        })
    }

    /// `pop-error-scope`: the innermost scope's first error, if any; an operation error
    /// when no scope is open.
    pub(super) fn pop_error_scope_of(
        &mut self,
    ) -> R<Result<Option<Resource<ErrorObject>>, w::PopErrorScopeError>> {
        match self.gpu.pop_scope() {
            None => Ok(Err(w::PopErrorScopeError {
                kind: w::PopErrorScopeErrorKind::OperationError,
                message: "pop-error-scope: no error scope is open".into(),
            })),
            Some(None) => Ok(Ok(None)),
            Some(Some(e)) => Ok(Ok(Some(self.push(e)?))),
        }
    }
}

impl w::HostGpuError for WebGpuState {
    fn message(&mut self, this: Resource<ErrorObject>) -> R<String> {
        Ok(self.table.get(&this)?.message.clone())
    }

    fn kind(&mut self, this: Resource<ErrorObject>) -> R<w::GpuErrorKind> {
        Ok(match self.table.get(&this)?.kind {
            ErrorKind::Validation => w::GpuErrorKind::ValidationError,
            ErrorKind::OutOfMemory => w::GpuErrorKind::OutOfMemoryError,
            ErrorKind::Internal => w::GpuErrorKind::InternalError,
        })
    }

    drop_deletes!(ErrorObject);
}
