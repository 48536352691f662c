-- CreateIndex
CREATE INDEX "product_view_last_tx_last_pos_idx" ON "product_view"("last_tx", "last_pos");
