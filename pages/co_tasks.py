"""协办: the parallel-approval tasks other departments sent to mine (the queue, those preselected)."""
from app.ui.desk import draw_queue

draw_queue(co_only=True)
