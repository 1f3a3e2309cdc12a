//! The `ml-kernels` imports (reduce, element-wise, matmul, forest kernels) on
//! [`GuestState`].

use offload_core::gpu::{
    DType, ElementwiseOp, FindSplitArgs, ForestBuffers, MatmulPrecision, ReduceOp,
};
use wasmtime::component::Resource;

use super::bindings::wasi::gpu::ml_kernels;
use super::error::Wit;
use super::{GpuBuffer, GuestState};

fn dtype(d: ml_kernels::Dtype) -> DType {
    match d {
        ml_kernels::Dtype::F32 => DType::F32,
        ml_kernels::Dtype::F64 => DType::F64,
    }
}

impl ml_kernels::Host for GuestState {
    fn kernel_reduce(
        &mut self,
        op: ml_kernels::ReduceOp,
        dt: ml_kernels::Dtype,
        a: Resource<GpuBuffer>,
        n: u64,
    ) -> Wit<f64> {
        let a = self.id(&a)?;
        let op = match op {
            ml_kernels::ReduceOp::Sum => ReduceOp::Sum,
            ml_kernels::ReduceOp::Min => ReduceOp::Min,
            ml_kernels::ReduceOp::Max => ReduceOp::Max,
        };
        self.with(|b| b.reduce(op, dtype(dt), a, n))
    }

    fn kernel_elementwise(
        &mut self,
        op: ml_kernels::ElementwiseOp,
        dt: ml_kernels::Dtype,
        a: Resource<GpuBuffer>,
        b: Option<Resource<GpuBuffer>>,
        scalar: f64,
        out: Resource<GpuBuffer>,
        n: u64,
    ) -> Wit<()> {
        let a = self.id(&a)?;
        let b = b.map(|b| self.id(&b)).transpose()?;
        let out = self.id(&out)?;
        let op = match op {
            ml_kernels::ElementwiseOp::Mul => ElementwiseOp::Mul,
            ml_kernels::ElementwiseOp::Add => ElementwiseOp::Add,
            ml_kernels::ElementwiseOp::Scale => ElementwiseOp::Scale,
            ml_kernels::ElementwiseOp::Relu => ElementwiseOp::Relu,
        };
        self.with(|be| be.elementwise(op, dtype(dt), a, b, scalar, out, n))
    }

    fn kernel_matmul(
        &mut self,
        precision: ml_kernels::MatmulPrecision,
        a: Resource<GpuBuffer>,
        b: Resource<GpuBuffer>,
        c: Resource<GpuBuffer>,
        m: u32,
        k: u32,
        n: u32,
    ) -> Wit<()> {
        let (a, b, c) = (self.id(&a)?, self.id(&b)?, self.id(&c)?);
        let p = match precision {
            ml_kernels::MatmulPrecision::Fp32 => MatmulPrecision::Fp32,
            ml_kernels::MatmulPrecision::Tf32 => MatmulPrecision::Tf32,
        };
        self.with(|be| be.matmul(p, a, b, c, m as u64, k as u64, n as u64))
    }

    fn kernel_bootstrap_sample(
        &mut self,
        seed: u64,
        first_tree: u32,
        n_trees: u32,
        n_rows: u32,
        out: Resource<GpuBuffer>,
    ) -> Wit<()> {
        let out = self.id(&out)?;
        self.with(|b| b.bootstrap_sample(seed, first_tree, n_trees, n_rows, out))
    }

    #[allow(clippy::too_many_arguments)]
    fn kernel_find_split(
        &mut self,
        x: Resource<GpuBuffer>,
        y: Resource<GpuBuffer>,
        order: Resource<GpuBuffer>,
        weights: Resource<GpuBuffer>,
        node_of: Resource<GpuBuffer>,
        cand_rank: Resource<GpuBuffer>,
        out: Resource<GpuBuffer>,
        shape: ml_kernels::SplitShape,
    ) -> Wit<()> {
        let args = FindSplitArgs {
            x: self.id(&x)?,
            y: self.id(&y)?,
            order: self.id(&order)?,
            weights: self.id(&weights)?,
            node_of: self.id(&node_of)?,
            cand_rank: self.id(&cand_rank)?,
            out: self.id(&out)?,
            n_rows: shape.n_rows,
            d: shape.d,
            n_trees: shape.n_trees,
            n_nodes: shape.n_nodes,
            min_leaf: shape.min_leaf,
        };
        self.with(|b| b.find_split(&args))
    }

    fn kernel_average(
        &mut self,
        dt: ml_kernels::Dtype,
        preds: Resource<GpuBuffer>,
        n_trees: u32,
        n_rows: u32,
        out: Resource<GpuBuffer>,
    ) -> Wit<()> {
        let (p, o) = (self.id(&preds)?, self.id(&out)?);
        self.with(|b| b.average(dtype(dt), p, n_trees, n_rows, o))
    }

    #[allow(clippy::too_many_arguments)]
    fn kernel_batch_predict(
        &mut self,
        dt: ml_kernels::Dtype,
        feature: Resource<GpuBuffer>,
        threshold: Resource<GpuBuffer>,
        left: Resource<GpuBuffer>,
        right: Resource<GpuBuffer>,
        value: Resource<GpuBuffer>,
        tree_start: Resource<GpuBuffer>,
        shape: ml_kernels::ForestShape,
        x: Resource<GpuBuffer>,
        n_rows: u32,
        out: Resource<GpuBuffer>,
    ) -> Wit<()> {
        let forest = ForestBuffers {
            feature: self.id(&feature)?,
            threshold: self.id(&threshold)?,
            left: self.id(&left)?,
            right: self.id(&right)?,
            value: self.id(&value)?,
            tree_start: self.id(&tree_start)?,
            n_trees: shape.n_trees,
            n_nodes: shape.n_nodes,
            n_features: shape.n_features,
        };
        let (x, out) = (self.id(&x)?, self.id(&out)?);
        self.with(|b| b.batch_predict(dtype(dt), &forest, x, n_rows, out))
    }
}
