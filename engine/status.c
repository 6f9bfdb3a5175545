/* status.c — status strings, logging, sticky context errors. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

static const char *const status_names[EBM_STATUS_COUNT] = {
    [EBM_OK] = "ok",
    [EBM_STATUS_INVALID_ARGUMENT] = "invalid argument",
    [EBM_STATUS_SHAPE] = "shape mismatch",
    [EBM_STATUS_NO_DEVICE] = "no matching OpenCL device",
    [EBM_STATUS_OPENCL] = "OpenCL error",
    [EBM_STATUS_BUILD] = "kernel build failed",
    [EBM_STATUS_OUT_OF_MEMORY] = "out of memory",
    [EBM_STATUS_BLAS] = "OpenCL library error",
    [EBM_STATUS_IO] = "I/O error",
    [EBM_STATUS_FORMAT] = "bad file format",
    [EBM_STATUS_NOT_IMPLEMENTED] = "not implemented",
    [EBM_STATUS_NUMERIC] = "non-finite value",
};

const char *ebm_status_str(ebm_status_t st) {
    if ((int)st < 0 || st >= EBM_STATUS_COUNT) return "unknown status";
    return status_names[st];
}

/* stderr, from the level EBM_LOG names (default warn) */
static void default_log(ebm_log_level_t level, const char *msg, void *user) {
    (void)user;
    if ((int)level >= ebm_env()->log_level) fprintf(stderr, "ebm: %s\n", msg);
}

static ebm_log_fn log_fn = default_log;
static void *log_user;

void ebm_log_set(ebm_log_fn fn, void *user) {
    log_fn = fn ? fn : default_log;
    log_user = user;
}

static void vlog(ebm_log_level_t level, const char *fmt, va_list ap) {
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    log_fn(level, buf, log_user);
}

void ebm_log_message(ebm_log_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void ebm_assert_fail(const char *expr, const char *file, int line) {
    ebm_log_message(EBM_LOG_ERROR, "internal error: EBM_ASSERT(%s) failed at %s:%d", expr, file, line);
    abort();
}

ebm_status_t ebm_fail(ebm_ctx_t *ctx, ebm_status_t st, const char *fmt, ...) {
    char buf[1900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (ctx && ctx->status == EBM_OK) {
        ctx->status = st;
        snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s: %s", ebm_status_str(st), buf);
    }
    ebm_log_message(EBM_LOG_DEBUG, "%s: %s", ebm_status_str(st), buf);
    return st;
}

ebm_status_t ebm_cl_fail(ebm_ctx_t *ctx, cl_int err, const char *what) {
    ebm_status_t st = EBM_STATUS_OPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY || err == CL_INVALID_BUFFER_SIZE)
        st = EBM_STATUS_OUT_OF_MEMORY;
    return ebm_fail(ctx, st, "%s (%d) in %s", ebm_cl_error_name(err), (int)err, what);
}

ebm_status_t ebm_lib_fail(ebm_ctx_t *ctx, int code, const char *what) {
    if (code == CL_MEM_OBJECT_ALLOCATION_FAILURE || code == CL_OUT_OF_HOST_MEMORY || code == CL_INVALID_BUFFER_SIZE)
        return ebm_cl_fail(ctx, code, what);
    if (code < 0 && code > -70) return ebm_fail(ctx, EBM_STATUS_BLAS, "%s (%d) in %s", ebm_cl_error_name(code), code, what);
    return ebm_fail(ctx, EBM_STATUS_BLAS, "status %d in %s", code, what);
}

ebm_status_t ebm_ctx_status(const ebm_ctx_t *ctx) { return ctx ? ctx->status : EBM_OK; }

void ebm_ctx_clear_error(ebm_ctx_t *ctx) {
    if (!ctx) return;
    ctx->status = EBM_OK;
    ctx->errmsg[0] = 0;
}

const char *ebm_cl_error_name(int e) {
    switch (e) {
#define N(x) case x: return #x;
        N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE) N(CL_COMPILER_NOT_AVAILABLE)
        N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
        N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH)
        N(CL_IMAGE_FORMAT_NOT_SUPPORTED) N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
        N(CL_MISALIGNED_SUB_BUFFER_OFFSET) N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
        N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE)
        N(CL_DEVICE_PARTITION_FAILED) N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) N(CL_INVALID_VALUE)
        N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE) N(CL_INVALID_CONTEXT)
        N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE) N(CL_INVALID_HOST_PTR)
        N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) N(CL_INVALID_IMAGE_SIZE)
        N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS) N(CL_INVALID_PROGRAM)
        N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME) N(CL_INVALID_KERNEL_DEFINITION)
        N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX) N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE)
        N(CL_INVALID_KERNEL_ARGS) N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE)
        N(CL_INVALID_WORK_ITEM_SIZE) N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST)
        N(CL_INVALID_EVENT) N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE)
        N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
        N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS)
        N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    default: return "unknown OpenCL error";
    }
}

void *ebm_grow_array(void *items, int *cap, size_t elem, int initial) {
    int n = *cap ? 2 * *cap : initial;
    void *p = realloc(items, (size_t)n * elem);
    if (p) *cap = n;
    return p;
}
