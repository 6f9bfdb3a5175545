/* autograd.c — tape recording and the reverse pass (ebm_grad).
 *
 * A node is attached to each op output when grad mode is on and some input needs a gradient. The
 * reverse pass visits only tensors that lie on a path from the outputs to a requested input, in
 * reverse topological order, and calls each node's backward rule. Rules use the public ops, so
 * with EBM_GRAD_CREATE_GRAPH the pass is itself recorded and can be differentiated again. */
#include <string.h>
#include "internal.h"

int ebm_grad_set_enabled(ebm_ctx_t *ctx, int on) {
    int was = ctx->grad_enabled;
    ctx->grad_enabled = on ? 1 : 0;
    return was;
}

int ebm_grad_enabled(const ebm_ctx_t *ctx) { return ctx->grad_enabled; }

int ebm_grad_set_first_order(ebm_ctx_t *ctx, int on) {
    int was = ctx->first_order;
    ctx->first_order = on && !ebm_env()->first_order_off ? 1 : 0;
    return was;
}

int ebm_params_set_frozen(ebm_ctx_t *ctx, int frozen) {
    int was = ctx->params_frozen;
    ctx->params_frozen = frozen ? 1 : 0;
    return was;
}

ebm_node_t *ebm_record(ebm_tensor_t *out, const char *name, ebm_backward_fn bw, int n_in, ebm_tensor_t *const *in) {
    ebm_ctx_t *ctx = out->ctx;
    if (!ctx->grad_enabled) return NULL;
    unsigned char rg[EBM_NODE_MAX_IN] = {0};
    int any = 0;
    EBM_ASSERT(n_in <= EBM_NODE_MAX_IN);
    for (int i = 0; i < n_in; i++) {
        rg[i] = (unsigned char)ebm_tensor_live_requires_grad(in[i]);
        any |= rg[i];
    }
    if (!any) return NULL;
    ebm_node_t *n = calloc(1, sizeof *n);
    if (!n) {
        ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        return NULL;
    }
    n->name = name;
    n->backward = bw;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) {
        n->in[i] = in[i];
        n->rg[i] = rg[i];
    }
    n->out = out;
    free(out->node);
    out->node = n;
    return n;
}

ebm_tensor_t *ebm_detach(ebm_tensor_t *t) {
    if (!t) return NULL;
    return ebm_tensor_view(t, t->ndim, t->shape, t->off);
}

ebm_tensor_t *ebm_accumulate(ebm_tensor_t *acc, ebm_tensor_t *g) {
    if (!g) return acc;
    if (!acc) return g;
    return ebm_add(acc, g);
}

/* ---- traversal ---- */

typedef struct {
    ebm_tensor_t **items;
    int n, cap;
} tlist_t;

static int tlist_push(tlist_t *l, ebm_tensor_t *t) {
    if (l->n == l->cap) {
        ebm_tensor_t **it = ebm_grow_array(l->items, &l->cap, sizeof *it, 256);
        if (!it) return -1;
        l->items = it;
    }
    l->items[l->n++] = t;
    return 0;
}

/* Marks whether t leads to a requested input (state 1) or not (2); appends needed tensors to
 * `order` in post-order (children first). Iterative, so deep graphs do not exhaust the stack. */
static int mark_needed(ebm_tensor_t *root, unsigned gen, tlist_t *order) {
    typedef struct { ebm_tensor_t *t; int next; int needed; } frame_t;
    int cap = 256, sp = 0;
    frame_t *st = malloc(cap * sizeof *st);
    if (!st) return -1;
    if (root->gen == gen) {
        free(st);
        return 0;
    }
    root->gen = gen;
    root->state = 0;
    st[sp++] = (frame_t){root, 0, root->in_gen == gen};
    while (sp > 0) {
        frame_t *f = &st[sp - 1];
        ebm_node_t *nd = f->t->node;
        if (nd && f->next < nd->n_in) {
            int i = f->next++;
            ebm_tensor_t *c = nd->in[i];
            if (!nd->rg[i]) continue;
            if (c->gen == gen) {
                if (c->state == 1) f->needed = 1;
                continue;
            }
            c->gen = gen;
            c->state = 0;
            if (sp == cap) {
                cap *= 2;
                frame_t *ns = realloc(st, cap * sizeof *ns);
                if (!ns) {
                    free(st);
                    return -1;
                }
                st = ns;
                f = &st[sp - 1];
            }
            st[sp++] = (frame_t){c, 0, c->in_gen == gen};
            continue;
        }
        /* all children done */
        ebm_tensor_t *t = f->t;
        t->state = f->needed ? 1 : 2;
        t->acc = NULL;
        if (f->needed && tlist_push(order, t) != 0) {
            free(st);
            return -1;
        }
        sp--;
        if (sp > 0 && t->state == 1) st[sp - 1].needed = 1;
    }
    free(st);
    return 0;
}

/* Gradients without a graph (no EBM_GRAD_CREATE_GRAPH) run inside a scope of their own, at depth
 * `level`, and free as they go, as a caching allocator's backward frees each gradient once used:
 * every node's rule runs in a nested scope (its temporaries go when it returns), and a gradient made
 * here is freed once no tensor's accumulator holds its storage (acc_refs) and its node has run. Only
 * tensors made at `level` are ever freed: the graph, the caller's grad_outputs and the results
 * (kept into the caller's scope) are not. A freed owner's views stay in the scope's list until it
 * ends, their base dangling: harmless, as ebm_scope_end follows base only from kept tensors, whose
 * owners are held. Not re-entrant (nor was ebm_grad before): one call's counters and accumulators
 * at a time. */
static ebm_tensor_t *owner_of(ebm_tensor_t *t) { return t && t->base ? t->base : t; }

static void acc_hold(ebm_tensor_t *t) {
    if (t) owner_of(t)->acc_refs++;
}

static void acc_drop(ebm_tensor_t *t, int level) {
    ebm_tensor_t *o = owner_of(t);
    if (!o) return;
    if (o->acc_refs > 0) o->acc_refs--;
    if (level > 0 && o->acc_refs == 0 && o->scope == level && !o->keep) ebm_tensor_free(o);
}

const ebm_grad_fuse_t *ebm_grad_fuse_offer(ebm_ctx_t *ctx, int i) {
    return i >= 0 && i < EBM_NODE_MAX_IN && ctx->grad_fuse[i].x ? &ctx->grad_fuse[i] : NULL;
}

void ebm_grad_fuse_take(ebm_ctx_t *ctx, int i) {
    EBM_ASSERT(ebm_grad_fuse_offer(ctx, i));
    ctx->grad_fused[i] = 1;
}

ebm_status_t ebm_grad(ebm_tensor_t *const *outputs, int n_out, ebm_tensor_t *const *grad_outputs,
                      ebm_tensor_t *const *inputs, int n_in, ebm_tensor_t **grads, unsigned flags) {
    ebm_ctx_t *ctx = NULL;
    for (int i = 0; i < n_out && !ctx; i++) ctx = outputs[i] ? outputs[i]->ctx : NULL;
    for (int i = 0; i < n_in && !ctx; i++) ctx = inputs[i] ? inputs[i]->ctx : NULL;
    for (int i = 0; i < n_in; i++) grads[i] = NULL;
    if (!ctx) return EBM_STATUS_INVALID_ARGUMENT;
    if (ctx->status != EBM_OK) return ctx->status;
    for (int i = 0; i < n_out; i++)
        if (!outputs[i]) return ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "ebm_grad: output %d is NULL", i);
    for (int i = 0; i < n_in; i++)
        if (!inputs[i]) return ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT, "ebm_grad: input %d is NULL", i);

    unsigned gen = ++ctx->grad_gen;
    for (int i = 0; i < n_in; i++) inputs[i]->in_gen = gen;
    tlist_t order = {0};
    for (int j = 0; j < n_out; j++) {
        if (mark_needed(outputs[j], gen, &order) != 0) {
            free(order.items);
            return ebm_fail(ctx, EBM_STATUS_OUT_OF_MEMORY, "host allocation failed");
        }
    }
    int graph = (flags & EBM_GRAD_CREATE_GRAPH) != 0;
    int was = ebm_grad_set_enabled(ctx, graph);
    int level = 0;   /* the scope of this call's gradients (0: a graph is recorded, nothing is freed) */
    if (!graph) {
        ebm_scope_begin(ctx);
        level = ebm_scope_depth(ctx);
    }
    /* seeds */
    for (int j = 0; j < n_out && ctx->status == EBM_OK; j++) {
        ebm_tensor_t *o = outputs[j];
        if (o->state != 1) continue;
        ebm_tensor_t *g = grad_outputs ? grad_outputs[j] : NULL;
        if (g && g->numel != o->numel) {
            char a[64], b[64];
            ebm_fail(ctx, EBM_STATUS_SHAPE, "ebm_grad: grad_output %s does not match output %s",
                     ebm_tensor_shape_str(g, a, sizeof a), ebm_tensor_shape_str(o, b, sizeof b));
            break;
        }
        if (!g) g = ebm_tensor_full(ctx, o->ndim, o->shape, 1.0f);
        else if (!ebm_shape_eq(g->ndim, g->shape, o->ndim, o->shape)) g = ebm_reshape(g, o->ndim, o->shape);
        ebm_tensor_t *sum = ebm_accumulate(o->acc, g);
        if (level) {
            acc_hold(sum);
            if (o->acc && sum != o->acc) acc_drop(o->acc, level);
        }
        o->acc = sum;
    }
    /* consumers of each needed tensor among the needed nodes (for the fusion offers) */
    for (int k = 0; k < order.n; k++) order.items[k]->n_cons = 0;
    for (int k = 0; k < order.n; k++) {
        ebm_node_t *nd = order.items[k]->node;
        for (int i = 0; nd && i < nd->n_in; i++)
            if (nd->rg[i] && nd->in[i]->gen == gen && nd->in[i]->state == 1) nd->in[i]->n_cons++;
    }
    /* reverse topological order: the post-order list read backwards */
    for (int k = order.n - 1; k >= 0 && ctx->status == EBM_OK; k--) {
        ebm_tensor_t *t = order.items[k];
        ebm_node_t *nd = t->node;
        if (!nd || !t->acc) continue;
        int need[EBM_NODE_MAX_IN] = {0}, any = 0;
        for (int i = 0; i < nd->n_in; i++) {
            ebm_tensor_t *c = nd->in[i];
            need[i] = nd->rg[i] && c->gen == gen && c->state == 1;
            any |= need[i];
        }
        if (!any) continue;
        if (graph && nd->first_order) {
            ebm_fail(ctx, EBM_STATUS_INVALID_ARGUMENT,
                     "ebm_grad: a graph of the gradient was asked for (EBM_GRAD_CREATE_GRAPH), but the forward's %s "
                     "was recorded for first derivatives only (ebm_grad_set_first_order: it kept f'(z), not z); "
                     "record that forward without it (or set EBM_FIRST_ORDER=off)",
                     nd->name);
            break;
        }
        ebm_tensor_t *gx[EBM_NODE_MAX_IN] = {0};
        /* the input's elementwise producer's derivative, offered to the rule: an input with this one
         * consumer, no gradient of its own yet, not asked for, made by f^(n)(x) from an x that needs
         * a gradient (its producer's rule is then skipped: its gradient never arrives) */
        ebm_tensor_t *into[EBM_NODE_MAX_IN] = {0};   /* where each input's gradient goes */
        for (int i = 0; i < nd->n_in; i++) {
            ebm_tensor_t *c = nd->in[i];
            ebm_grad_fuse_t *f = &ctx->grad_fuse[i];
            f->x = NULL;
            ctx->grad_fused[i] = 0;
            into[i] = c;
            if (level && need[i] && c->n_cons == 1 && !c->acc && c->in_gen != gen && ebm_node_unary(c->node, f)) {
                ebm_tensor_t *x = f->x;
                if (!c->node->rg[0] || x->gen != gen || x->state != 1) f->x = NULL;   /* x takes no gradient */
            }
        }
        if (level) ebm_scope_begin(ctx);
        nd->backward(nd, t->acc, need, gx);
        for (int i = 0; i < nd->n_in; i++) {
            if (ctx->grad_fused[i]) into[i] = ctx->grad_fuse[i].x;
            ctx->grad_fuse[i].x = NULL;
            ctx->grad_fused[i] = 0;
        }
        for (int i = 0; i < nd->n_in && ctx->status == EBM_OK; i++) {
            if (!need[i] || !gx[i]) continue;
            ebm_tensor_t *c = into[i];
            if (gx[i]->numel != c->numel) {
                ebm_fail(ctx, EBM_STATUS_SHAPE, "internal: backward of %s gave %zu elements for an input of %zu",
                         nd->name, gx[i]->numel, c->numel);
                break;
            }
            if (!ebm_shape_eq(gx[i]->ndim, gx[i]->shape, c->ndim, c->shape)) gx[i] = ebm_reshape(gx[i], c->ndim, c->shape);
            if (level && gx[i]->scope == level + 1) ebm_tensor_keep(gx[i]);   /* made by the rule: out to `level` */
        }
        if (level) ebm_scope_end(ctx);   /* the rule's temporaries */
        /* the rule's results are held while they are accumulated (one tensor may fill two slots), then
         * go unless an accumulator took them (after a failure, results past it were not kept: none is
         * touched, the call's scope frees them all) */
        if (ctx->status != EBM_OK) break;
        for (int i = 0; i < nd->n_in && level; i++)
            if (need[i]) acc_hold(gx[i]);
        for (int i = 0; i < nd->n_in && ctx->status == EBM_OK; i++) {
            if (!need[i] || !gx[i]) continue;
            ebm_tensor_t *c = into[i];
            ebm_tensor_t *sum = ebm_accumulate(c->acc, gx[i]);
            if (level) {
                acc_hold(sum);
                if (c->acc && sum != c->acc) acc_drop(c->acc, level);
            }
            c->acc = sum;
        }
        for (int i = 0; i < nd->n_in && level; i++)
            if (need[i]) acc_drop(gx[i], level);
        if (level && t->in_gen != gen) {   /* used: t's gradient is no result */
            acc_drop(t->acc, level);
            t->acc = NULL;
        }
    }
    for (int i = 0; i < n_in && ctx->status == EBM_OK; i++) {
        ebm_tensor_t *t = inputs[i];
        if (t->gen == gen && t->acc) {
            grads[i] = t->acc;
        } else if (!(flags & EBM_GRAD_ALLOW_UNUSED)) {
            grads[i] = ebm_tensor_zeros(ctx, t->ndim, t->shape);
        }
        if (level && grads[i] && grads[i]->scope == level) ebm_tensor_keep(grads[i]);   /* into the caller's scope */
    }
    for (int k = 0; k < order.n; k++) {
        if (level && order.items[k]->acc) acc_drop(order.items[k]->acc, 0);
        order.items[k]->acc = NULL;
    }
    for (int j = 0; j < n_out; j++) outputs[j]->acc = NULL;
    free(order.items);
    if (level) ebm_scope_end(ctx);   /* every other gradient made here */
    ebm_grad_set_enabled(ctx, was);
    if (ctx->status != EBM_OK)
        for (int i = 0; i < n_in; i++) grads[i] = NULL;
    return ctx->status;
}
