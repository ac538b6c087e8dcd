"""待办 (officer and head home): the queue of my department's cases and of parallel tasks sent to it."""
from app.ui.desk import draw_queue

draw_queue(co_only=False)
