/* Notifications inside the store's transactions (internal to the store
 * layer): who is told what, written in the transaction of the case change
 * that causes it. Each notification is one row of `notifications` (the
 * user's inbox entry and the push gateway's queue), rendered at creation
 * from the template in force for the user's locale (en when the locale has
 * none), plus sg.notification.requested (key user_id) and an entry in the
 * case's audit trail. See store_notifications.c.
 */
#ifndef RP_STORE_NOTIFY_H
#define RP_STORE_NOTIFY_H

#include "notify.h"
#include "sg/pg.h"

/* Creates one notification of `kind` for user_id about case_id (ballot_id
 * may be NULL: the user's ballot on the case is used when there is one).
 * Status pending, or muted when the user muted the kind. SG_OK or SG_ERR_*. */
int rp_notification_create(sg_pg *c, const char *user_id, rp_notify_kind kind, const char *case_id,
                           const char *ballot_id, const char *tp);
/* The same for users[0..n) (borrowed), read in one statement: each gets
 * one notification, in that order (ballot_id is used only when n is 1;
 * otherwise each user's ballot on the case). */
int rp_notifications_create(sg_pg *c, const char *const *users, size_t n, rp_notify_kind kind, const char *case_id,
                            const char *ballot_id, const char *tp);

/* The outcome notices of a decided case: case_outcome to each juror of
 * case_id who voted, report_outcome to each reporter (of root_id, the
 * appealed case for an appeal), content_outcome to the owner. */
int rp_notify_outcome(sg_pg *c, const char *case_id, const char *root_id, const char *owner, const char *tp);
/* The jurors' part of rp_notify_outcome alone: case_outcome to each juror
 * of case_id who voted (owner, never a juror, excluded as there). For an
 * audit case, whose owner and reporter are nobody to tell. */
int rp_notify_jurors_outcome(sg_pg *c, const char *case_id, const char *owner, const char *tp);

/* appeal_opened to the owner and each reporter of root_id, about the appeal
 * case appeal_id. */
int rp_notify_appeal_opened(sg_pg *c, const char *appeal_id, const char *root_id, const char *owner,
                            const char *tp);

#endif
