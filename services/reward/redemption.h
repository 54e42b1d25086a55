/* The redemption's lifecycle, owned here: its states, their names, and which
 * change of state is allowed. Pure (no I/O).
 *
 *   (none) --redeem--> completed --refund--> refunded
 *
 * A redemption is born completed: redeeming takes the stock and debits the
 * coins in the transaction that creates the row, or creates nothing. A
 * refund returns both, once; refunded is final. Every change of state goes
 * through one store function per transition (store.h: rw_store_redeem,
 * rw_store_refund), which asks rw_redemption_may and writes the state's
 * name from rw_redemption_status_name, together with the ledger posting of
 * the transition (journal kind redeem / refund). Redemptions announce no
 * event. The names are also the CHECK constraint of redemptions.status
 * (sql/reward/002) and the `status` of the redemption JSON (openapi.yaml).
 */
#ifndef RW_REDEMPTION_H
#define RW_REDEMPTION_H

typedef enum {
    RW_REDEMPTION_COMPLETED = 0,  /* stock taken, coins debited */
    RW_REDEMPTION_REFUNDED,       /* stock and coins returned; final */
    RW_REDEMPTION_NSTATUS         /* number of states, not a state */
} rw_redemption_status;

/* The state a redemption is created in. */
#define RW_REDEMPTION_INITIAL RW_REDEMPTION_COMPLETED

/* "completed", "refunded"; NULL for a value that is not a state. */
const char *rw_redemption_status_name(rw_redemption_status s);

/* The state named `name` into *out. Returns 0, or -1 (and *out untouched)
 * for NULL or a name that is not a state. */
int rw_redemption_status_parse(const char *name, rw_redemption_status *out);

/* 1 when a redemption in state `from` may move to state `to`, else 0 (also
 * for a value that is not a state). Staying in a state is not a transition. */
int rw_redemption_may(rw_redemption_status from, rw_redemption_status to);

#endif
