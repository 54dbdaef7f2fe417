/* Images: saving one into the store, and bringing it back into an engine
 * that lost it. */
#ifndef RB_CTR_IMAGE_H
#define RB_CTR_IMAGE_H

#include "ctr_container.h"

/* Streams GET /images/{id}/get into a blob. When `reuse` names the blob an
 * earlier snapshot stored for the same image id, that blob is referenced
 * instead of read again. */
int rb_ctr_image_save(rb_ctr_engine *e, const char *image_id, const char *container,
                      const char *reuse, char blob_out[RB_BLOB_ID_SIZE]);

/* Makes sure the engine has the recorded image: loads the saved one when it
 * is missing, and puts back the recorded tag when no image carries it.
 * *image_out is what to create the container from: the tag when it still
 * means the recorded image, else the image id (malloc'd). *loaded tells
 * whether the image had to be loaded. */
int rb_ctr_image_ensure(rb_ctr_engine *e, const rb_ctr_recorded *r, char **image_out, int *loaded);

#endif
